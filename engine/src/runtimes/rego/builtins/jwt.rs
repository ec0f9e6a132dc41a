//! OPA's `io.jwt.decode` and the HMAC verifiers `io.jwt.verify_hs256/384/512`.
//!
//! Decoding a JWS is base64url and JSON; verifying an HS* signature is an HMAC
//! (RustCrypto's, see `crypto.rs`) compared in constant time by `hmac`'s `verify`.
//! The RSA and ECDSA verifiers and `io.jwt.decode_verify` are not provided (see
//! docs/writing-policies.md).

use anyhow::{anyhow, bail, Result};
use hmac::{Hmac, Mac};
use regorus::Value;

use super::{string_arg, Registrar};

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    r.add("io.jwt.decode", 1, |a: &[Value]| {
        let token = string_arg(a, 0)?;
        let (header, payload, signature) = split(token)?;
        Ok(Value::from(vec![
            json_part(header)?,
            json_part(payload)?,
            Value::from(data_encoding::HEXLOWER.encode(&b64(signature)?)),
        ]))
    })?;
    r.add("io.jwt.verify_hs256", 2, |a: &[Value]| {
        verify::<Hmac<sha2::Sha256>>(a)
    })?;
    r.add("io.jwt.verify_hs384", 2, |a: &[Value]| {
        verify::<Hmac<sha2::Sha384>>(a)
    })?;
    r.add("io.jwt.verify_hs512", 2, |a: &[Value]| {
        verify::<Hmac<sha2::Sha512>>(a)
    })?;
    Ok(())
}

fn split(token: &str) -> Result<(&str, &str, &str)> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => bail!("encoded JWT had no period separators"),
    }
}

fn b64(part: &str) -> Result<Vec<u8>> {
    data_encoding::BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .map_err(|e| anyhow!("JWT is not base64url: {e}"))
}

fn json_part(part: &str) -> Result<Value> {
    let bytes = b64(part)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| anyhow!("JWT part is not UTF-8: {e}"))?;
    let v = Value::from_json_str(text)?;
    if !matches!(v, Value::Object(_)) {
        bail!("JWT part is not a JSON object");
    }
    Ok(v)
}

fn verify<M: Mac + hmac::digest::KeyInit>(a: &[Value]) -> Result<Value> {
    let token = string_arg(a, 0)?;
    let secret = string_arg(a, 1)?;
    let (header, payload, signature) = split(token)?;
    let signature = b64(signature)?;
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
        .map_err(|e| anyhow!("{e}"))?;
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    Ok(Value::from(mac.verify_slice(&signature).is_ok()))
}
