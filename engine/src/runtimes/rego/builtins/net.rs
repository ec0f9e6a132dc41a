//! `net.cidr_intersects` (missing in regorus), `net.cidr_expand` as a set (regorus
//! returned an array), and `semver.*` accepting a `v` prefix, as OPA does.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{anyhow, Result};
use ipnet::IpNet;
use regorus::Value;

use super::{string_arg, Registrar};
use crate::runtimes::rego::MAX_RANGE_ELEMENTS;

pub(super) fn install(r: &mut Registrar<'_>) -> Result<()> {
    // No DNS (the engine never reaches outside the process): the lookup fails as it
    // does in OPA for a name that does not resolve, a builtin error, so the
    // expression is undefined unless builtin errors are shown.
    r.add("net.lookup_ip_addr", 1, |a: &[Value]| {
        let name = string_arg(a, 0)?;
        Err(anyhow!(
            "lookup {name}: DNS lookups are not available (policy never reaches outside the process)"
        ))
    })?;
    r.add("net.cidr_intersects", 2, |a: &[Value]| {
        let x = cidr(string_arg(a, 0)?)?;
        let y = cidr(string_arg(a, 1)?)?;
        Ok(Value::from(
            x.contains(&y.network()) || y.contains(&x.network()),
        ))
    })?;
    r.add("net.cidr_expand", 1, |a: &[Value]| {
        let net = cidr(string_arg(a, 0)?)?;
        let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
        if host_bits >= 64 || (1u64 << host_bits) > MAX_RANGE_ELEMENTS {
            return Err(super::LimitExceeded(format!(
                "net.cidr_expand: {net} has 2^{host_bits} addresses, over the limit of {MAX_RANGE_ELEMENTS}"
            ))
            .into());
        }
        let mut out = BTreeSet::new();
        match net {
            IpNet::V4(n) => {
                let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
                for ip in lo..=hi {
                    out.insert(Value::from(Ipv4Addr::from(ip).to_string()));
                }
            }
            IpNet::V6(n) => {
                let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
                for ip in lo..=hi {
                    out.insert(Value::from(Ipv6Addr::from(ip).to_string()));
                }
            }
        }
        Ok(Value::from(out))
    })?;
    r.add("semver.is_valid", 1, |a: &[Value]| {
        Ok(Value::from(match a.first() {
            Some(Value::String(s)) => version(s).is_ok(),
            _ => false,
        }))
    })?;
    r.add("semver.compare", 2, |a: &[Value]| {
        let x = version(string_arg(a, 0)?).map_err(|e| anyhow!("operand 1: {e}"))?;
        let y = version(string_arg(a, 1)?).map_err(|e| anyhow!("operand 2: {e}"))?;
        Ok(Value::from(match x.cmp_precedence(&y) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }))
    })?;
    Ok(())
}

/// A CIDR, or a bare address as its one-address network.
fn cidr(s: &str) -> Result<IpNet> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| anyhow!("invalid CIDR address: {s}"))
}

fn version(s: &str) -> Result<semver::Version> {
    semver::Version::parse(s.strip_prefix('v').unwrap_or(s))
        .map_err(|_| anyhow!("string {s:?} is not a valid SemVer"))
}
