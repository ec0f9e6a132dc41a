//! OPA's `crypto.*` digests and HMACs, which regorus does not have.
//!
//! Hex digests of a string's bytes (`crypto.md5`, `crypto.sha1`, `crypto.sha256`) and
//! `crypto.hmac.*`, on RustCrypto's implementations.
//! (`crypto.x509.*` is not provided; see docs/writing-policies.md.)

use anyhow::Result;
use hmac::{Hmac, Mac};
use regorus::Value;
use sha2::Digest;

use super::{string_arg, Registrar};

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("crypto.md5", 1, |a: &[Value]| {
        Ok(hex(&md5::Md5::digest(string_arg(a, 0)?.as_bytes())))
    })?;
    r.add("crypto.sha1", 1, |a: &[Value]| {
        Ok(hex(&sha1::Sha1::digest(string_arg(a, 0)?.as_bytes())))
    })?;
    r.add("crypto.sha256", 1, |a: &[Value]| {
        Ok(hex(&sha2::Sha256::digest(string_arg(a, 0)?.as_bytes())))
    })?;
    r.add("crypto.hmac.md5", 2, |a: &[Value]| {
        hmac_hex::<Hmac<md5::Md5>>(a)
    })?;
    r.add("crypto.hmac.sha1", 2, |a: &[Value]| {
        hmac_hex::<Hmac<sha1::Sha1>>(a)
    })?;
    r.add("crypto.hmac.sha256", 2, |a: &[Value]| {
        hmac_hex::<Hmac<sha2::Sha256>>(a)
    })?;
    r.add("crypto.hmac.sha512", 2, |a: &[Value]| {
        hmac_hex::<Hmac<sha2::Sha512>>(a)
    })?;
    r.add("crypto.hmac.equal", 2, |a: &[Value]| {
        let (x, y) = (string_arg(a, 0)?.as_bytes(), string_arg(a, 1)?.as_bytes());
        // Constant time in the contents, as Go's hmac.Equal.
        let same =
            x.len() == y.len() && x.iter().zip(y).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0;
        Ok(Value::from(same))
    })?;
    Ok(())
}

fn hex(bytes: &[u8]) -> Value {
    Value::from(data_encoding::HEXLOWER.encode(bytes))
}

/// `HMAC(key = operand 2, message = operand 1)` as hex.
fn hmac_hex<M: Mac + hmac::digest::KeyInit>(a: &[Value]) -> Result<Value> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(string_arg(a, 1)?.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    mac.update(string_arg(a, 0)?.as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}
