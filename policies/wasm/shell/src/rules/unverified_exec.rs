//! ## DF104: downloaded file executed without verification
//!
//! ### What it does
//! Follows files that `curl` or `wget` download in a `RUN` (`curl -o f`, `curl -O`,
//! `curl … > f`, `wget URL`, `wget -O f`, also when moved with `mv`, `cp`, `install` or
//! `ln -s`) and reports the command that then executes one of them (`./f`, `sh f`,
//! `bash f`, `python3 f`, `. f`, or its name once installed into a `PATH` directory) in the
//! same `RUN`, when nothing in that `RUN` checks a checksum or a signature (`sha256sum`,
//! `sha512sum`, `shasum`, `md5sum`, `gpg --verify`, `gpgv`, `cosign`, `minisign`, ...).
//! Piping a download straight into a shell is DF005's business.
//!
//! ### Why is this bad?
//! Whatever the server returns runs with the build's privileges and ends up in the image: a
//! compromised release, a hijacked domain or a tampered mirror owns the build and everyone
//! who runs the image. A pinned checksum makes the build fail instead.
//!
//! ### Example
//! ```dockerfile
//! RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh && sh /tmp/install.sh
//! ```
//! Use instead:
//! ```dockerfile
//! RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh \
//!  && echo "3f2a…e9  /tmp/install.sh" | sha256sum -c - \
//!  && sh /tmp/install.sh
//! ```
//!
//! ### References
//! - <https://docs.docker.com/build/building/best-practices/#add-or-copy>
//! - <https://slsa.dev/spec/v1.0/threats>

use policy_sdk::Severity;

use super::{code, Hit, Rule};
use crate::cmd::{basename, Invocation};
use crate::run::{Checker, CmdRef, Origin, Run};
use crate::syntax::Word;

/// The rule.
pub const RULE: Rule = Rule {
    id: "DF104",
    title: "Downloaded file executed without verification",
    severity: Severity::Medium,
    description: "A RUN downloads a file with curl or wget and executes it (directly, through \
        an interpreter such as `sh` or `python3`, or after installing it into a PATH \
        directory) without checking a checksum or signature in the same RUN: whatever the \
        server returns runs in the build and ships in the image.",
    remediation: "Pin the file's SHA-256 and check it before running it \
        (`echo \"<sha256>  file\" | sha256sum -c -`), or verify a signature (`gpg --verify`, \
        `cosign verify-blob`). Better: install from a package manager or COPY --from a \
        pinned image.",
    references: &[
        "https://docs.docker.com/build/building/best-practices/#add-or-copy",
        "https://slsa.dev/spec/v1.0/threats",
    ],
    check,
};

/// Commands that check a checksum or a signature.
const VERIFIERS: &[&str] = &[
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "shasum",
    "md5sum",
    "b2sum",
    "cksum",
    "gpgv",
    "gpgv2",
    "cosign",
    "minisign",
    "signify",
    "slsa-verifier",
    "rekor-cli",
    "sigstore",
];

/// Interpreters that run a script file given as their first operand.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "python", "python2", "python3", "perl", "ruby",
    "node", "php", ".", "source",
];

/// Directories of the default `PATH`.
const PATH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Short options of curl that take a value.
const CURL_SHORT_VALUE: &str = "ABbCcDdEeFHKmoQrTtUuwXxYyz";
/// Long options of curl that take a separate value (the common ones).
const CURL_LONG_VALUE: &[&str] = &[
    "--header",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-urlencode",
    "--user",
    "--user-agent",
    "--referer",
    "--proxy",
    "--request",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--max-time",
    "--connect-timeout",
    "--write-out",
    "--upload-file",
    "--cookie",
    "--cookie-jar",
    "--cacert",
    "--cert",
    "--form",
    "--range",
    "--continue-at",
    "--config",
    "--proto",
    "--proto-redir",
    "--tlsv1.2",
    "--limit-rate",
    "--max-filesize",
    "--resolve",
    "--dump-header",
    "--netrc-file",
    "--oauth2-bearer",
    "--variable",
];
/// Short options of wget that take a value.
const WGET_SHORT_VALUE: &str = "aABDeiIlOoPQRtTUwX";
/// Long options of wget that take a separate value (the common ones).
const WGET_LONG_VALUE: &[&str] = &[
    "--header",
    "--user",
    "--password",
    "--tries",
    "--timeout",
    "--post-data",
    "--user-agent",
    "--output-file",
    "--append-output",
    "--input-file",
    "--wait",
    "--quota",
    "--level",
];

fn check(ck: &Checker<'_, '_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (ri, run) in ck.runs() {
        let cmds = ck.commands(ri);
        if cmds.iter().any(|c| is_verifier(&c.inv)) {
            continue;
        }
        // Downloaded (or moved) files, each with the download command.
        let mut files: Vec<(String, CmdRef<'_>)> = Vec::new();
        for c in cmds {
            if let Some((first, last, i)) = executes(&c.inv, &files) {
                let (file, dl) = files.remove(i);
                hits.push(hit(ri, run, c.origin, first, last, &file, &dl));
                continue;
            }
            if let Some((sources, dest)) = moves(&c.inv) {
                let renamed: Vec<(String, CmdRef<'_>)> = files
                    .iter()
                    .filter(|(f, _)| sources.iter().any(|s| same_file(s, f)))
                    .map(|(f, dl)| (destination(dest, f), *dl))
                    .collect();
                files.extend(renamed);
            }
            if let Some(file) = downloaded_file(c) {
                files.push((file, *c));
            }
        }
    }
    hits
}

fn hit(
    ri: usize,
    run: &Run<'_>,
    origin: Origin,
    first: &Word,
    last: &Word,
    file: &str,
    dl: &CmdRef<'_>,
) -> Hit {
    let line = run
        .word_range(dl.origin, dl.inv.name)
        .map(|(s, _)| format!(" on line {}", s.line))
        .unwrap_or_default();
    let msg = format!(
        "{} is downloaded by {}{line} and executed here without a checksum or signature check: \
         whatever the server returns runs in the build. Pin its SHA-256 and check it first \
         (`echo \"<sha256>  {file}\" | sha256sum -c -`), or verify a signature.",
        code(file, 60),
        code(dl.inv.command(), 20),
    );
    Hit::words(RULE.id, ri, origin, first, last, msg)
}

fn is_verifier(inv: &Invocation<'_>) -> bool {
    let name = inv.command();
    VERIFIERS.contains(&name)
        || (matches!(name, "gpg" | "gpg2") && inv.args.iter().any(|w| w.text.contains("verify")))
        || (name == "openssl" && inv.args.first().is_some_and(|w| w.text == "dgst"))
}

/// `./x`, `x` and `x/` all name the same file; `a//b` is `a/b`.
fn normalize(path: &str) -> String {
    let mut p = path.trim_start_matches("./").to_owned();
    while p.contains("//") {
        p = p.replace("//", "/");
    }
    p
}

fn same_file(word: &str, file: &str) -> bool {
    !word.is_empty() && normalize(word) == normalize(file)
}

fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// Whether running command `name` runs `file`: the same path when `name` has a `/`,
/// else (a `PATH` lookup, never the current directory) the file's name once it is in a
/// `PATH` directory.
fn runs_file(name: &str, file: &str) -> bool {
    if name.contains('/') {
        same_file(name, file)
    } else {
        PATH_DIRS.contains(&dirname(&normalize(file))) && basename(file) == name
    }
}

/// Whether `inv` executes one of `files`: the words to report and the file's index.
fn executes<'a>(
    inv: &Invocation<'a>,
    files: &[(String, CmdRef<'_>)],
) -> Option<(&'a Word, &'a Word, usize)> {
    if let Some(i) = files.iter().position(|(f, _)| runs_file(&inv.name.text, f)) {
        return Some((inv.name, inv.name, i));
    }
    if !INTERPRETERS.contains(&inv.command()) {
        return None;
    }
    // The first operand, after options (`sh -e x.sh`, `python3 -u x.py`); `-c`/`-m` mean
    // the operand is code or a module, not a file.
    let mut args = inv.args.iter();
    let operand = loop {
        let w = args.next()?;
        if w.text == "-c" || w.text == "-m" {
            return None;
        }
        if !w.text.starts_with('-') || w.text == "-" {
            break w;
        }
    };
    let i = files
        .iter()
        .position(|(f, _)| same_file(&operand.text, f))?;
    Some((inv.name, operand, i))
}

/// `mv`/`cp`/`install`/`ln -s` sources and destination.
fn moves<'a>(inv: &Invocation<'a>) -> Option<(Vec<&'a str>, &'a str)> {
    let with_value: &[&str] = match inv.command() {
        "mv" | "cp" => &["-t", "-S"],
        "install" => &["-m", "-o", "-g", "-t", "-S", "--mode", "--owner", "--group"],
        "ln" => &["-t", "-S"],
        _ => return None,
    };
    let ops = inv.operands(with_value);
    let (dest, sources) = ops.split_last()?;
    if sources.is_empty() {
        return None;
    }
    Some((
        sources.iter().map(|w| w.text.as_str()).collect(),
        dest.text.as_str(),
    ))
}

/// Where `file` ends up when moved to `dest` (a directory when it ends with `/` or is a
/// `PATH` directory).
fn destination(dest: &str, file: &str) -> String {
    let d = dest.trim_end_matches('/');
    if dest.ends_with('/') || PATH_DIRS.contains(&d) || dest == "." {
        format!("{}/{}", if d.is_empty() { "." } else { d }, basename(file))
    } else {
        dest.to_owned()
    }
}

/// The last path segment of a URL (`https://e.x/a/tool.sh?x=1` → `tool.sh`).
fn url_file(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split(['?', '#']).next()?;
    let (_, path) = rest.split_once('/')?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The file a `curl` or `wget` command writes, if it writes one.
fn downloaded_file(c: &CmdRef<'_>) -> Option<String> {
    let (short_value, long_value, out_flag, remote_flag): (&str, &[&str], char, Option<char>) =
        match c.inv.command() {
            "curl" => (CURL_SHORT_VALUE, CURL_LONG_VALUE, 'o', Some('O')),
            "wget" => (WGET_SHORT_VALUE, WGET_LONG_VALUE, 'O', None),
            _ => return None,
        };
    let wget = remote_flag.is_none();
    let args = c.inv.args;
    let mut output: Option<String> = None;
    let mut remote = wget;
    let mut dir: Option<String> = None;
    let mut url: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        i += 1;
        let next = |i: &mut usize| {
            let v = args.get(*i).map(|w| w.text.clone());
            *i += 1;
            v
        };
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let value = |i: &mut usize| inline.clone().or_else(|| next(i));
            match (wget, name) {
                (false, "output") | (true, "output-document") => output = value(&mut i),
                (false, "remote-name" | "remote-name-all") => remote = true,
                (false, "output-dir") | (true, "directory-prefix") => dir = value(&mut i),
                (_, "url") => {
                    if let Some(v) = args.get(i) {
                        url = url.or(Some(v.text.as_str()));
                    }
                    i += 1;
                }
                _ if inline.is_none() && long_value.contains(&t) => i += 1,
                _ => {}
            }
        } else if let Some(flags) = t.strip_prefix('-').filter(|f| !f.is_empty()) {
            for (k, f) in flags.char_indices() {
                let attached = &flags[k + f.len_utf8()..];
                let value = |i: &mut usize| {
                    if attached.is_empty() {
                        next(i)
                    } else {
                        Some(attached.to_owned())
                    }
                };
                if f == out_flag {
                    output = value(&mut i);
                    break;
                }
                if Some(f) == remote_flag {
                    remote = true;
                    continue;
                }
                if wget && f == 'P' {
                    dir = value(&mut i);
                    break;
                }
                if short_value.contains(f) {
                    let _ = value(&mut i);
                    break;
                }
            }
        } else if t.contains("://") {
            url = url.or(Some(t));
        }
    }
    // `curl … > file`.
    if output.is_none() && !wget {
        output = c
            .simple
            .redirects
            .iter()
            .find(|r| matches!(r.op, ">" | ">>" | ">|") && matches!(r.fd, None | Some(1)))
            .map(|r| r.target.text.clone());
    }
    let file = match output {
        Some(o) if o == "-" || o == "/dev/null" => return None,
        Some(o) => o,
        None if remote => url_file(url?)?.to_owned(),
        None => return None,
    };
    Some(match dir {
        Some(d) if !file.starts_with('/') => format!("{}/{file}", d.trim_end_matches('/')),
        _ => file,
    })
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
    fn reports_execution_of_a_download() {
        for (bad, at) in [
            ("RUN curl -fsSLo /tmp/i.sh https://e.x/i.sh && sh /tmp/i.sh", "sh /tmp/i.sh"),
            ("RUN curl -fsSL -O https://e.x/get/install.sh?v=1 && bash ./install.sh --yes", "bash ./install.sh"),
            ("RUN wget -q https://e.x/setup.py && python3 setup.py", "python3 setup.py"),
            ("RUN wget -qO /usr/local/bin/tool https://e.x/tool && chmod +x /usr/local/bin/tool && tool --version", "tool"),
            ("RUN curl -sSL https://e.x/t > /tmp/t; chmod +x /tmp/t; /tmp/t install", "/tmp/t"),
            ("RUN curl -fLo kubectl https://e.x/kubectl && install -m 0755 kubectl /usr/local/bin/kubectl && kubectl version", "kubectl"),
            ("RUN wget -P /opt https://e.x/run.sh && mv /opt/run.sh /usr/bin && run.sh", "run.sh"),
            ("RUN curl --output=/x.sh https://e.x/x.sh && . /x.sh", ". /x.sh"),
        ] {
            let h = hits(&["FROM debian", bad]);
            assert_eq!(h.len(), 1, "{bad}");
            let value = &bad[4..];
            assert_eq!(&value[h[0].start..h[0].end], at, "{bad}");
        }
    }

    #[test]
    fn verified_or_not_executed() {
        for ok in [
            "RUN curl -fsSLo /tmp/i.sh https://e.x/i.sh && echo \"abc  /tmp/i.sh\" | sha256sum -c - && sh /tmp/i.sh",
            "RUN curl -fsSLO https://e.x/t.tgz https://e.x/t.tgz.asc && gpg --verify t.tgz.asc t.tgz && tar xzf t.tgz && ./t/install",
            "RUN curl -fsSLo /tmp/t.tgz https://e.x/t.tgz && tar -xzf /tmp/t.tgz -C /opt",
            "RUN curl -fsSL https://e.x/key | gpg --dearmor -o /usr/share/keyrings/x.gpg",
            "RUN wget -qO- https://e.x/i.sh | sh",
            "RUN sh /tmp/i.sh && curl -o /tmp/i.sh https://e.x/i.sh",
            "RUN curl -o /tmp/i.sh https://e.x/i.sh && [ \"$(sha256sum /tmp/i.sh | cut -d' ' -f1)\" = \"$SUM\" ] && sh /tmp/i.sh",
            "RUN curl -fsSLo /tmp/i.py https://e.x/i.py && python3 -c 'print(1)'",
        ] {
            assert!(hits(&["FROM debian", ok]).is_empty(), "{ok}");
        }
    }

    #[test]
    fn url_file_names() {
        assert_eq!(url_file("https://e.x/a/b.sh?x#y"), Some("b.sh"));
        assert_eq!(url_file("https://e.x/"), None);
        assert_eq!(url_file("https://e.x"), None);
        assert_eq!(destination("/usr/local/bin", "/tmp/k"), "/usr/local/bin/k");
        assert_eq!(destination("/opt/k2", "/tmp/k"), "/opt/k2");
        assert!(runs_file("./k", "k") && runs_file("/usr/bin/k", "/usr/bin//k"));
        assert!(runs_file("k", "/usr/local/bin/k") && !runs_file("k", "k"));
    }
}
