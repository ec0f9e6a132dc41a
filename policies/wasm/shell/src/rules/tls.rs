//! ## DF108: TLS certificate verification turned off
//!
//! ### What it does
//! Finds commands and settings that turn off certificate checks for downloads:
//! `curl -k`/`--insecure`, `wget --no-check-certificate`, `pip --trusted-host` (and
//! `pip config set global.trusted-host`), `npm`/`yarn`/`pnpm config set strict-ssl false`
//! (and `--strict-ssl=false`), `git -c http.sslVerify=false` and
//! `git config http.sslVerify false`, `yum`/`dnf --setopt=sslverify=0`, and the variables
//! `NODE_TLS_REJECT_UNAUTHORIZED=0`, `PYTHONHTTPSVERIFY=0`, `GIT_SSL_NO_VERIFY`,
//! `NPM_CONFIG_STRICT_SSL=false` and `PIP_TRUSTED_HOST`, whether set by `ENV`, `ARG`
//! defaults, `export` or a command prefix. In every `RUN` form, heredocs and `sh -c`
//! included.
//!
//! ### Why is this bad?
//! Without certificate checks anyone on the network path (a proxy, a hijacked DNS
//! answer, a hostile Wi-Fi in a CI runner) can serve their own packages or scripts, and
//! they are built into the image. A variable set with `ENV` stays on at run time too,
//! for every connection the application makes.
//!
//! ### Example
//! ```dockerfile
//! RUN curl -kfsSL https://example.com/tool.tar.gz | tar -xz
//! ```
//! Use instead: install the CA the server uses (`COPY corp-ca.crt
//! /usr/local/share/ca-certificates/ && update-ca-certificates`) and keep verification on.
//!
//! ### References
//! - checkov CKV2_DOCKER_2-6, CKV2_DOCKER_12-16

use policy_sdk::dockerfile::Instruction;
use policy_sdk::Severity;

use super::{Hit, Rule};
use crate::cmd::Invocation;
use crate::run::Checker;
use crate::syntax::Word;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF108",
    title: "TLS certificate verification turned off",
    severity: Severity::High,
    description: "curl -k, wget --no-check-certificate, pip --trusted-host, npm strict-ssl \
        false, git http.sslVerify=false, yum/dnf sslverify=0 and the variables \
        NODE_TLS_REJECT_UNAUTHORIZED=0, PYTHONHTTPSVERIFY=0, GIT_SSL_NO_VERIFY, \
        NPM_CONFIG_STRICT_SSL=false and PIP_TRUSTED_HOST let anyone on the network path \
        serve their own files to the build; set with ENV, they stay on at run time.",
    remediation: "Remove the option or variable; if a proxy or private registry uses its \
        own CA, install that CA (`update-ca-certificates`, `REQUESTS_CA_BUNDLE`, \
        `NODE_EXTRA_CA_CERTS`, `npm config set cafile`) instead.",
    references: &[
        "https://curl.se/docs/sslcerts.html",
        "https://nodejs.org/api/cli.html#node_tls_reject_unauthorizedvalue",
    ],
    check,
};

/// Whether `NAME=value` turns verification off.
fn insecure_var(name: &str, value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']).to_ascii_lowercase();
    match name {
        "NODE_TLS_REJECT_UNAUTHORIZED" | "PYTHONHTTPSVERIFY" => v == "0",
        "GIT_SSL_NO_VERIFY" => !v.is_empty() && v != "0" && v != "false",
        "NPM_CONFIG_STRICT_SSL" | "npm_config_strict_ssl" => v == "false" || v == "0",
        "PIP_TRUSTED_HOST" => !v.is_empty(),
        _ => false,
    }
}

fn var_message(name: &str) -> String {
    format!(
        "{name} turns off TLS certificate verification: remove it and trust the needed CA instead"
    )
}

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, ins) in ck.analysis.dockerfile.instructions.iter().enumerate() {
        if ins.cmd == "env" || ins.cmd == "arg" {
            for (name, value) in pairs(ins) {
                if insecure_var(&name, &value) {
                    hits.push(Hit::instruction(RULE.id, i, var_message(&name)));
                }
            }
        }
    }
    for (ri, _) in ck.runs() {
        for c in ck.commands(ri) {
            // `VAR=value cmd`, and `export VAR=value`.
            let exported: &[Word] = if c.inv.command() == "export" {
                c.inv.args
            } else {
                &[]
            };
            for a in c.simple.assigns.iter().chain(exported) {
                if let Some((name, value)) = a.text.split_once('=') {
                    if insecure_var(name, value) {
                        hits.push(Hit::words(RULE.id, ri, c.origin, a, a, var_message(name)));
                    }
                }
            }
            if let Some((first, last, what)) = insecure_command(&c.inv) {
                let msg = format!(
                    "{what} turns off TLS certificate verification: remove it and trust the needed CA instead"
                );
                hits.push(Hit::words(RULE.id, ri, c.origin, first, last, msg));
            }
        }
    }
    hits
}

/// The offending words of a command that turns verification off, and how to name it.
fn insecure_command<'a>(inv: &Invocation<'a>) -> Option<(&'a Word, &'a Word, String)> {
    let args = inv.args;
    let name = inv.command();
    let find = |pred: &dyn Fn(&str) -> bool| args.iter().find(|w| w.literal().is_some_and(pred));
    match name {
        "curl" => {
            let w = find(&|t| t == "--insecure" || (short_flags(t) && t.contains('k')))?;
            Some((w, w, format!("`curl {}`", w.text)))
        }
        "wget" => {
            let w = find(&|t| t == "--no-check-certificate")?;
            Some((w, w, "`wget --no-check-certificate`".into()))
        }
        "git" => {
            let k = args.iter().position(|w| {
                w.literal().is_some_and(|t| {
                    let l = t.to_ascii_lowercase();
                    l.contains("sslverify=false") || l.contains("sslverify=0")
                })
            });
            if let Some(k) = k {
                return Some((&args[k], &args[k], format!("`git -c {}`", args[k].text)));
            }
            // git config [--global] http.sslVerify false
            let k = args
                .iter()
                .position(|w| w.text.to_ascii_lowercase().ends_with("sslverify"))?;
            let v = args.get(k + 1)?.literal()?.to_ascii_lowercase();
            (args.first()?.text == "config" && (v == "false" || v == "0")).then(|| {
                (
                    &args[k],
                    &args[k + 1],
                    format!("`git config {} {}`", args[k].text, args[k + 1].text),
                )
            })
        }
        "npm" | "yarn" | "pnpm" => {
            if let Some(w) = find(&|t| t == "--strict-ssl=false" || t == "--no-strict-ssl") {
                return Some((w, w, format!("`{name} {}`", w.text)));
            }
            let k = args.iter().position(|w| {
                matches!(
                    w.text.as_str(),
                    "strict-ssl" | "strict_ssl" | "strict-ssl=false"
                )
            })?;
            let set =
                args.iter().take(k).any(|w| w.text == "set") && args.first()?.text == "config";
            if args[k].text == "strict-ssl=false" && set {
                return Some((
                    &args[k],
                    &args[k],
                    format!("`{name} config set strict-ssl=false`"),
                ));
            }
            let v = args.get(k + 1)?.literal()?;
            (set && (v == "false" || v == "0")).then(|| {
                (
                    &args[k],
                    &args[k + 1],
                    format!("`{name} config set strict-ssl false`"),
                )
            })
        }
        "yum" | "dnf" | "tdnf" | "microdnf" | "dnf5" => {
            let k = args.iter().position(|w| {
                let l = w.text.to_ascii_lowercase();
                l.contains("sslverify=0")
                    || l.contains("sslverify=false")
                    || l.contains("sslverify=no")
            })?;
            Some((&args[k], &args[k], format!("`{name} {}`", args[k].text)))
        }
        n if n == "pip" || n.starts_with("pip3") || n.starts_with("python") => {
            if let Some(w) = find(&|t| t == "--trusted-host" || t.starts_with("--trusted-host=")) {
                return Some((w, w, format!("`{n} --trusted-host`")));
            }
            let k = args
                .iter()
                .position(|w| w.text.ends_with(".trusted-host"))?;
            args.iter().take(k).any(|w| w.text == "config").then(|| {
                (
                    &args[k],
                    &args[k],
                    format!("`{n} config set {}`", args[k].text),
                )
            })
        }
        _ => None,
    }
}

/// `-fsSLk`: a group of short flags (letters only).
fn short_flags(t: &str) -> bool {
    t.strip_prefix('-').is_some_and(|f| {
        !f.is_empty() && !f.starts_with('-') && f.chars().all(|c| c.is_ascii_alphabetic())
    })
}

/// `KEY=value` pairs of an ENV or ARG instruction (quotes removed), and the legacy
/// `ENV KEY value` form.
fn pairs(ins: &Instruction) -> Vec<(String, String)> {
    let args: Vec<&str> = ins.arg_strings().collect();
    if ins.cmd == "env" && args.len() == 2 && !args[0].contains('=') {
        return vec![(args[0].to_owned(), args[1].to_owned())];
    }
    args.iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::dockerfile;
    use crate::run::Analysis;

    fn hits(lines: &[&str]) -> Vec<Hit> {
        let d = dockerfile(lines);
        check(&Checker::new(&Analysis::new(&d)))
    }

    #[test]
    fn verification_off() {
        let h = hits(&[
            "FROM node",
            "ENV NODE_TLS_REJECT_UNAUTHORIZED=0",
            "RUN curl -fsSLk https://x/y -o y && wget --no-check-certificate https://x/z",
            "RUN pip install --trusted-host pypi.org flask==3 && npm config set strict-ssl false",
            "RUN git -c http.sslVerify=false clone https://x/r && PYTHONHTTPSVERIFY=0 python x.py",
            "RUN git config --global http.sslVerify false && dnf --setopt=sslverify=0 install -y x-1",
        ]);
        let msgs: Vec<&str> = h.iter().map(|h| h.msg.as_str()).collect();
        assert_eq!(h.len(), 9, "{msgs:#?}");
        assert_eq!(h[0].instruction, Some(1));
    }

    #[test]
    fn verification_on() {
        for line in [
            "RUN curl -fsSL https://x/y -o y && curl --key k.pem https://x",
            "RUN wget -q https://x && git -c http.sslVerify=true clone x",
            "RUN npm config set strict-ssl true && npm config get strict-ssl",
            "ENV NODE_TLS_REJECT_UNAUTHORIZED=1 PYTHONHTTPSVERIFY=1",
            "RUN pip install --index-url https://mirror/simple flask==3",
        ] {
            assert!(hits(&["FROM node", line]).is_empty(), "{line}");
        }
    }
}
