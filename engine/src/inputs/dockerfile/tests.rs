//! Unit tests for the Dockerfile input: one test per feature, with exact positions.

use serde_json::{json, Value};

use super::*;
use crate::source::Position;

fn doc(src: &str) -> Document {
    match parse("Dockerfile", src) {
        Ok(d) => d,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn err(src: &str) -> InputError {
    match parse("Dockerfile", src) {
        Ok(_) => panic!("expected an error for {src:?}"),
        Err(e) => e,
    }
}

/// `((start line, start col), (end line, end col))` of a pointer.
fn at(d: &Document, ptr: &str) -> ((u32, u32), (u32, u32)) {
    let s = d
        .source_map
        .get(ptr)
        .unwrap_or_else(|| panic!("no span for {ptr}"));
    ((s.start.line, s.start.column), (s.end.line, s.end.column))
}

fn ins(d: &Document, i: usize) -> &Value {
    &d.value["instructions"][i]
}

#[test]
fn document_basics_and_whole_file_span() {
    let src = "FROM alpine\nRUN true\n";
    let d = doc(src);
    assert_eq!(d.kind, DocumentKind::Dockerfile);
    assert_eq!(d.index, 0);
    assert_eq!(&*d.source, src);
    assert_eq!(d.span.start, Position::new(1, 1));
    assert_eq!(d.span.end, Position::new(3, 1));
    assert_eq!(at(&d, ""), ((1, 1), (3, 1)));
    assert_eq!(at(&d, "/instructions/1"), ((2, 1), (2, 9)));
    assert_eq!(at(&d, "/instructions/1/cmd"), ((2, 1), (2, 4)));
    assert_eq!(ins(&d, 1)["column"], json!(1));
    assert_eq!(ins(&d, 1)["original"], json!("RUN true"));
}

#[test]
fn parser_directives_and_backtick_escape() {
    let src = "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM `\n    alpine\nRUN echo a `\n  b\n";
    let d = doc(src);
    assert_eq!(
        d.value["directives"],
        json!({"syntax": "docker/dockerfile:1", "escape": "`", "check": "skip=all"})
    );
    assert_eq!(at(&d, "/directives/syntax"), ((1, 10), (1, 29)));
    // FROM continued with a backtick: the image is on line 5.
    assert_eq!(ins(&d, 0)["args"], json!(["alpine"]));
    assert_eq!(
        (ins(&d, 0)["line"].clone(), ins(&d, 0)["end_line"].clone()),
        (json!(4), json!(5))
    );
    assert_eq!(at(&d, "/instructions/0/args/0"), ((5, 5), (5, 11)));
    assert_eq!(ins(&d, 1)["args"], json!(["echo a   b"]));
    // default escape is always reported; backslash is literal with escape=`
    let d = doc("FROM scratch\n");
    assert_eq!(d.value["directives"], json!({"escape": "\\"}));
    let d = doc("# escape=`\nFROM scratch\nRUN dir c:\\\n");
    assert_eq!(ins(&d, 1)["args"], json!(["dir c:\\"]));
}

#[test]
fn continuations_skip_comments_and_empty_lines() {
    let src = "FROM alpine\nRUN apk add \\\n# a comment inside\n    curl \\\n\n    git\nCMD x\n";
    let d = doc(src);
    let run = ins(&d, 1);
    assert_eq!(run["args"], json!(["apk add     curl     git"]));
    assert_eq!(
        (run["line"].clone(), run["end_line"].clone()),
        (json!(2), json!(6))
    );
    assert_eq!(at(&d, "/instructions/1/args/0"), ((2, 5), (6, 8)));
    assert_eq!(ins(&d, 2)["line"], json!(7));
    // a continuation at end of file ends the instruction
    let d = doc("FROM alpine\nRUN something \\");
    assert_eq!(ins(&d, 1)["args"], json!(["something"]));
}

#[test]
fn heredocs_single_multiple_chomp_and_quoted() {
    let src = "FROM alpine\nRUN <<EOF\necho hi\nEOF\nRUN cat <<-A <<'B' > /x\n\tone\n\tA\ntwo $X\nB\nCOPY <<\"CONF\" /etc/c\nk=v\nCONF\nRUN echo done\n";
    let d = doc(src);
    let r1 = ins(&d, 1);
    assert_eq!(
        (r1["line"].clone(), r1["end_line"].clone()),
        (json!(2), json!(4))
    );
    assert_eq!(
        r1["heredocs"],
        json!([{"delimiter": "EOF", "content": "echo hi\n", "strip_tabs": false, "quoted": false, "line": 3, "end_line": 4}])
    );
    assert_eq!(at(&d, "/instructions/1/heredocs/0"), ((3, 1), (4, 4)));
    let r2 = ins(&d, 2);
    assert_eq!(
        (r2["line"].clone(), r2["end_line"].clone()),
        (json!(5), json!(9))
    );
    assert_eq!(r2["heredocs"][0]["content"], json!("one\n"));
    assert_eq!(r2["heredocs"][0]["strip_tabs"], json!(true));
    assert_eq!(r2["heredocs"][1]["delimiter"], json!("B"));
    assert_eq!(r2["heredocs"][1]["quoted"], json!(true));
    assert_eq!(r2["heredocs"][1]["content"], json!("two $X\n"));
    let c = ins(&d, 3);
    assert_eq!(c["heredocs"][0]["quoted"], json!(true));
    assert_eq!(c["sources"], json!(["<<\"CONF\""]));
    assert_eq!(c["dest"], json!("/etc/c"));
    assert_eq!(c["end_line"], json!(12));
    assert_eq!(ins(&d, 4)["line"], json!(13));
    // exec form has no heredocs
    let d = doc("FROM a\nRUN [\"cat\", \"<<EOF\"]\nRUN x\n");
    assert_eq!(ins(&d, 1)["heredocs"], json!([]));
    assert_eq!(ins(&d, 2)["line"], json!(3));
}

#[test]
fn exec_form_versus_shell_form() {
    let src = "FROM a\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\nENTRYPOINT /bin/run --x\nSHELL [\"/bin/bash\", \"-c\"]\nCMD ['single', 'quotes']\n";
    let d = doc(src);
    assert_eq!(ins(&d, 1)["json"], json!(true));
    assert_eq!(ins(&d, 1)["args"], json!(["nginx", "-g", "daemon off;"]));
    assert_eq!(at(&d, "/instructions/1/args/2"), ((2, 21), (2, 34)));
    assert_eq!(ins(&d, 2)["json"], json!(false));
    assert_eq!(ins(&d, 2)["args"], json!(["/bin/run --x"]));
    assert_eq!(ins(&d, 3)["args"], json!(["/bin/bash", "-c"]));
    // invalid JSON falls back to shell form, as in BuildKit
    assert_eq!(ins(&d, 4)["json"], json!(false));
    assert_eq!(ins(&d, 4)["args"], json!(["['single', 'quotes']"]));
}

#[test]
fn flags_with_exact_spans() {
    let src = "FROM --platform=linux/amd64 alpine\nCOPY --from=build --chown=1000:1000 --chmod=0755 --link src/ /dst/\nRUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=npmrc,required --mount=type=bind,source=.,target=/src,ro --network=none make\n";
    let d = doc(src);
    assert_eq!(ins(&d, 0)["platform"], json!("linux/amd64"));
    assert_eq!(at(&d, "/instructions/0/flags/0"), ((1, 6), (1, 28)));
    let c = ins(&d, 1);
    assert_eq!(
        c["flags"],
        json!([
            {"name": "from", "value": "build"},
            {"name": "chown", "value": "1000:1000"},
            {"name": "chmod", "value": "0755"},
            {"name": "link", "value": null},
        ])
    );
    assert_eq!(c["from"], json!("build"));
    assert_eq!(c["sources"], json!(["src/"]));
    assert_eq!(c["dest"], json!("/dst/"));
    assert_eq!(at(&d, "/instructions/1/flags/1"), ((2, 19), (2, 36)));
    assert_eq!(at(&d, "/instructions/1/flags/3"), ((2, 50), (2, 56)));
    assert_eq!(at(&d, "/instructions/1/dest"), ((2, 62), (2, 67)));
    let r = ins(&d, 2);
    assert_eq!(
        r["mounts"],
        json!([
            {"type": "cache", "target": "/root/.cache"},
            {"type": "secret", "id": "npmrc", "required": true},
            {"type": "bind", "source": ".", "target": "/src", "ro": true},
        ])
    );
    assert_eq!(r["network"], json!("none"));
    assert_eq!(r["args"], json!(["make"]));
    assert_eq!(at(&d, "/instructions/2/mounts/1"), ((3, 44), (3, 81)));
    assert_eq!(at(&d, "/instructions/2/flags/0"), ((3, 5), (3, 43)));
}

#[test]
fn global_args_substitute_into_from() {
    let src = "ARG BASE=alpine\nARG TAG\nARG V=${TAG:-3.20}\nARG R=${REG-docker.io}\nARG S=${BASE:+set}\nFROM ${BASE}:${V} AS one\nFROM $R/library/${BASE}:${TAG:-latest}${S:+-slim}\nFROM ${MISSING}\n";
    let d = doc(src);
    assert_eq!(
        d.value["args"],
        json!([
            {"name": "BASE", "default": "alpine", "line": 1},
            {"name": "TAG", "default": null, "line": 2},
            {"name": "V", "default": "${TAG:-3.20}", "line": 3},
            {"name": "R", "default": "${REG-docker.io}", "line": 4},
            {"name": "S", "default": "${BASE:+set}", "line": 5},
        ])
    );
    assert_eq!(at(&d, "/args/0"), ((1, 5), (1, 16)));
    let base0 = &d.value["stages"][0]["base"];
    assert_eq!(base0["raw"], json!("${BASE}:${V}"));
    assert_eq!(base0["image"], json!("alpine:3.20"));
    assert_eq!(base0["repository"], json!("library/alpine"));
    assert_eq!(base0["tag"], json!("3.20"));
    assert_eq!(at(&d, "/stages/0/base"), ((6, 6), (6, 18)));
    let base1 = &d.value["stages"][1]["base"];
    assert_eq!(
        base1["image"],
        json!("docker.io/library/alpine:latest-slim")
    );
    assert_eq!(base1["registry"], json!("docker.io"));
    let base2 = &d.value["stages"][2]["base"];
    assert_eq!(base2["image"], json!(""));
    assert_eq!(base2["unresolved"], json!(["MISSING"]));
    assert_eq!(base2["registry"], Value::Null);
    // ARGs before FROM have no stage
    assert_eq!(ins(&d, 0)["stage"], Value::Null);
    assert_eq!(ins(&d, 5)["stage"], json!(0));
}

#[test]
fn stages_names_references_and_scratch() {
    let src = "FROM golang:1.23 AS Builder\nRUN go build\n\nFROM builder AS test\nRUN go test\nFROM scratch\nCOPY --from=builder /app /app\n";
    let d = doc(src);
    let stages = d.value["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 3);
    assert_eq!(stages[0]["name"], json!("Builder"));
    assert_eq!(
        (stages[0]["line"].clone(), stages[0]["end_line"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(stages[0]["instructions"].as_array().map(Vec::len), Some(2));
    assert_eq!(stages[0]["instructions"][1]["cmd"], json!("run"));
    assert_eq!(stages[1]["base"]["stage"], json!(0));
    assert_eq!(stages[1]["base"]["registry"], Value::Null);
    assert_eq!(stages[2]["base"]["scratch"], json!(true));
    assert_eq!(stages[2]["name"], Value::Null);
    assert_eq!(ins(&d, 0)["image"], stages[0]["base"]);
    assert_eq!(at(&d, "/stages/1"), ((4, 1), (4, 21)));
    assert_eq!(at(&d, "/stages/1/name"), ((4, 17), (4, 21)));
    assert_eq!(
        at(&d, "/stages/2/instructions/1/flags/0"),
        ((7, 6), (7, 20))
    );
    assert_eq!(ins(&d, 3)["stage"], json!(1));
    assert_eq!(ins(&d, 4)["stage"], json!(2));
}

#[test]
fn onbuild_trigger_is_a_nested_instruction() {
    let src = "FROM alpine\nONBUILD RUN --mount=type=cache,target=/c [\"make\", \"all\"]\nONBUILD COPY . /app\n";
    let d = doc(src);
    let o = ins(&d, 1);
    assert_eq!(o["cmd"], json!("onbuild"));
    assert_eq!(o["flags"], json!([]));
    let t = &o["trigger"];
    assert_eq!(t["cmd"], json!("run"));
    assert_eq!(t["keyword"], json!("RUN"));
    assert_eq!(t["column"], json!(9));
    assert_eq!(t["json"], json!(true));
    assert_eq!(t["args"], json!(["make", "all"]));
    assert_eq!(t["mounts"], json!([{"type": "cache", "target": "/c"}]));
    assert_eq!(
        at(&d, "/instructions/1/trigger/flags/0"),
        ((2, 13), (2, 41))
    );
    assert_eq!(at(&d, "/instructions/1/trigger/args/1"), ((2, 51), (2, 56)));
    assert_eq!(ins(&d, 2)["trigger"]["dest"], json!("/app"));
    let e = err("FROM a\nONBUILD ONBUILD RUN x\n");
    assert_eq!((e.line, e.column), (2, 9));
}

#[test]
fn keywords_are_case_insensitive() {
    let d = doc("from alpine as Base\nRun echo hi\nworkDir /app\n");
    assert_eq!(ins(&d, 0)["cmd"], json!("from"));
    assert_eq!(ins(&d, 0)["name"], json!("Base"));
    assert_eq!(ins(&d, 1)["cmd"], json!("run"));
    assert_eq!(ins(&d, 1)["keyword"], json!("Run"));
    assert_eq!(ins(&d, 2)["path"], json!("/app"));
}

#[test]
fn env_label_user_expose_healthcheck() {
    let src = "FROM a\nENV A=1 B=\"two words\" C=x\\ y\nENV LEGACY some value\nLABEL org.opencontainers.image.title='App'\nUSER app:staff\nUSER 1000\nEXPOSE 8080 53/UDP $PORT\nHEALTHCHECK NONE\nHEALTHCHECK --interval=5s CMD curl -f http://localhost/\n";
    let d = doc(src);
    assert_eq!(
        ins(&d, 1)["pairs"],
        json!([{"key": "A", "value": "1"}, {"key": "B", "value": "two words"}, {"key": "C", "value": "x y"}])
    );
    assert_eq!(at(&d, "/instructions/1/pairs/1/value"), ((2, 11), (2, 22)));
    assert_eq!(
        ins(&d, 2)["pairs"],
        json!([{"key": "LEGACY", "value": "some value"}])
    );
    assert_eq!(ins(&d, 2)["args"], json!(["LEGACY", "some value"]));
    assert_eq!(
        ins(&d, 3)["pairs"],
        json!([{"key": "org.opencontainers.image.title", "value": "App"}])
    );
    assert_eq!(
        (ins(&d, 4)["user"].clone(), ins(&d, 4)["group"].clone()),
        (json!("app"), json!("staff"))
    );
    assert_eq!(ins(&d, 5)["group"], Value::Null);
    assert_eq!(
        ins(&d, 6)["ports"],
        json!([{"port": 8080, "protocol": "tcp"}, {"port": 53, "protocol": "udp"}, {"port": "$PORT", "protocol": "tcp"}])
    );
    assert_eq!(at(&d, "/instructions/6/ports/1"), ((7, 13), (7, 19)));
    assert_eq!(ins(&d, 7)["none"], json!(true));
    assert_eq!(ins(&d, 8)["none"], json!(false));
    assert_eq!(
        ins(&d, 8)["args"],
        json!(["CMD", "curl -f http://localhost/"])
    );
}

#[test]
fn arg_instruction_fields() {
    let d = doc("FROM a\nARG VERSION=\"1.2 3\" OTHER\n");
    let a = ins(&d, 1);
    assert_eq!(a["name"], json!("VERSION"));
    assert_eq!(a["default"], json!("1.2 3"));
    assert_eq!(a["pairs"][1], json!({"key": "OTHER", "value": null}));
    // stage ARGs are not global args
    assert_eq!(d.value["args"], json!([]));
}

#[test]
fn comments_are_kept_outside_instructions() {
    let d = doc("# top\nFROM a\nRUN x \\\n  # inner\n  y\n#\n# last\n");
    assert_eq!(
        d.value["comments"],
        json!([{"text": "top", "line": 1}, {"text": "", "line": 6}, {"text": "last", "line": 7}])
    );
    assert_eq!(at(&d, "/comments/0"), ((1, 1), (1, 6)));
}

#[test]
fn errors_have_locations_and_lower_case_messages() {
    let e = err("");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(
        e.message.starts_with("the file has no instructions"),
        "{}",
        e.message
    );
    let e = err("# only\n# comments\n");
    assert!(e.message.contains("only comments"), "{}", e.message);
    let e = err("FROM a\n\nENV PATH\n");
    assert_eq!((e.path.as_str(), e.line, e.column), ("Dockerfile", 3, 1));
    assert!(e.message.starts_with("missing value"), "{}", e.message);
    let e = err("FROM a\nCMD [ \"echo\", [ \"nested\" ] ]\n");
    assert_eq!((e.line, e.column), (2, 5));
    assert!(e.message.contains("strings only"));
    let e = err("FROM a\nRUN <<EOF\necho\n");
    assert_eq!((e.line, e.column), (2, 1));
    assert!(
        e.message.starts_with("unterminated heredoc"),
        "{}",
        e.message
    );
    let e = err("# escape=`\n# escape=\\\nFROM a\n");
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("only one escape parser directive"));
    let e = err("# escape=x\nFROM a\n");
    assert_eq!((e.line, e.column), (1, 10));
    let e = err("FROM a\nENV A=1 B\n");
    assert_eq!((e.line, e.column), (2, 9));
    for e in [err(""), err("FROM a\nENV X\n")] {
        let first = e.message.chars().next().unwrap_or('X');
        assert!(first.is_lowercase(), "{}", e.message);
    }
}

#[test]
fn image_reference_helper() {
    let r = parse_image_ref("registry.example.com:5000/team/app:1.0");
    assert_eq!(r.registry, "registry.example.com:5000");
    assert_eq!(r.repository, "team/app");
    assert_eq!(r.tag.as_deref(), Some("1.0"));
}

#[test]
fn fixture_multistage_shape() {
    let src = include_str!("../../../../tests/fixtures/dockerfile/multistage.Dockerfile");
    let d = doc(src);
    let v = &d.value;
    assert_eq!(v["stages"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["stages"][0]["platform"], json!("$BUILDPLATFORM"));
    assert_eq!(v["stages"][0]["base"]["image"], json!("golang:1.23-alpine"));
    assert_eq!(v["stages"][0]["end_line"], json!(11));
    assert_eq!(v["stages"][1]["base"]["registry"], json!("gcr.io"));
    assert_eq!(v["stages"][1]["base"]["tag"], json!("nonroot"));
    let run = &v["instructions"][4];
    assert_eq!(run["mounts"][0]["target"], json!("/root/.cache/go-build"));
    assert_eq!(run["args"], json!(["go build -o /out/app ./cmd/app"]));
    assert_eq!(
        v["instructions"][5]["heredocs"][0]["content"],
        json!("listen = 8080\n")
    );
    // every instruction, flag and argument has a span
    for (i, ins) in v["instructions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        assert!(d.source_map.get(&format!("/instructions/{i}")).is_some());
        for j in 0..ins["flags"].as_array().map_or(0, Vec::len) {
            assert!(d
                .source_map
                .get(&format!("/instructions/{i}/flags/{j}"))
                .is_some());
        }
        for k in 0..ins["args"].as_array().map_or(0, Vec::len) {
            assert!(d
                .source_map
                .get(&format!("/instructions/{i}/args/{k}"))
                .is_some());
        }
    }
}

#[test]
fn conftest_view_matches_documented_shape() {
    let src = include_str!("../../../../tests/fixtures/dockerfile/conftest-example.Dockerfile");
    let d = doc(src);
    let (view, lines) = conftest_view(&d);
    let expected = json!([
      {"Cmd":"from","SubCmd":"","JSON":false,"Flags":[],"Value":["openjdk:8-jdk-alpine"],"Stage":0},
      {"Cmd":"volume","SubCmd":"","JSON":false,"Flags":[],"Value":["/tmp"],"Stage":0},
      {"Cmd":"arg","SubCmd":"","JSON":false,"Flags":[],"Value":["DEPENDENCY=target/dependency"],"Stage":0},
      {"Cmd":"copy","SubCmd":"","JSON":false,"Flags":[],"Value":["${DEPENDENCY}/BOOT-INF/lib","/app/lib"],"Stage":0},
      {"Cmd":"copy","SubCmd":"","JSON":false,"Flags":[],"Value":["${DEPENDENCY}/META-INF","/app/META-INF"],"Stage":0},
      {"Cmd":"copy","SubCmd":"","JSON":false,"Flags":[],"Value":["${DEPENDENCY}/BOOT-INF/classes","/app"],"Stage":0},
      {"Cmd":"run","SubCmd":"","JSON":false,"Flags":[],"Value":["apk add --no-cache python3 python3-dev build-base && pip3 install awscli==1.18.1"],"Stage":0},
      {"Cmd":"entrypoint","SubCmd":"","JSON":true,"Flags":[],"Value":["java","-cp","app:app/lib/*","hello.Application"],"Stage":0}
    ]);
    assert_eq!(view, expected);
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn conftest_view_comments_onbuild_env_and_stages() {
    let src =
        "# first\n#\n# kept\nFROM a AS b\nENV K=v\nONBUILD RUN echo hi\nCMD\n# trailing, dropped\n";
    let d = doc(src);
    let (view, lines) = conftest_view(&d);
    assert_eq!(
        view,
        json!([
            {"Cmd":"comment","SubCmd":"","JSON":false,"Flags":null,"Value":["kept"],"Stage":0},
            {"Cmd":"from","SubCmd":"","JSON":false,"Flags":[],"Value":["a","AS","b"],"Stage":0},
            {"Cmd":"env","SubCmd":"","JSON":false,"Flags":[],"Value":["K","v","="],"Stage":0},
            {"Cmd":"onbuild","SubCmd":"RUN","JSON":false,"Flags":[],"Value":["echo hi"],"Stage":0},
            {"Cmd":"cmd","SubCmd":"","JSON":false,"Flags":null,"Value":null,"Stage":0},
        ])
    );
    assert_eq!(lines, vec![3, 4, 5, 6, 7]);
    let d = doc("FROM a\nFROM b\nRUN x\n");
    let (view, _) = conftest_view(&d);
    assert_eq!(view[2]["Stage"], json!(1));
}

#[test]
fn buildkit_dump_format() {
    let d = doc("FROM a\nCOPY --chown=1:1 x /y\nENV A B C\nONBUILD RUN [\"x\"]\nFOO bar\n");
    assert_eq!(
        buildkit_dump(&d),
        "(from \"a\")\n(copy [\"--chown=1:1\"] \"x\" \"/y\")\n(env \"A\" \"B C\" \"\")\n(onbuild (run \"x\"))\n(foo \"\")\n"
    );
}
