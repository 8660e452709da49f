//! Errors: where they point (line:col) and what they say, as Go's
//! parser and executor word them; broken templates never panic.

use super::funcs::call_err;
use super::tests::{data, e};
use super::*;

#[test]
fn positions_count_lines_and_characters() {
    let err = e("{{.Id}}\nnäme: {{.Id}}\n  {{bogus .Id}}");
    assert_eq!((err.line, err.col), (3, 5));
    let err = e("é {{.Id 1}}");
    assert_eq!((err.line, err.col), (1, 5));
    assert_eq!(
        err.to_string(),
        "template: 1:5: can't give argument to non-function .Id"
    );
}

/// Every prefix and every single-character deletion of real templates either renders or
/// returns a positioned error; none panics (byte offsets, char boundaries, EOF handling).
#[test]
fn truncated_and_mangled_templates_never_panic() {
    let corpus = [
        r#"{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}"#,
        r#"a {{- if eq .State.Status "running" -}} é {{else if .X}}b{{else}}c{{end}}"#,
        r#"{{printf "%-8s|%5d %q %x" .Name .Port `r` 'c'}}{{/* c */}}"#,
        r#"{{with $x := (index .NetworkSettings.Networks "bridge").IPAddress}}{{$x | upper}}{{end}}"#,
        r#"{{range .Args}}{{if .}}{{continue}}{{end}}{{break}}{{else}}{{1.5e3}}{{-2}}{{0x1f}}{{end}}"#,
    ];
    let d = data();
    let mut rendered = 0;
    for t in corpus {
        assert!(render(t, &d).is_ok(), "{t}");
        let cuts: Vec<usize> = t.char_indices().map(|(i, _)| i).collect();
        for &i in &cuts {
            let prefix = &t[..i];
            let mut deleted = t.to_string();
            deleted.remove(i);
            for candidate in [prefix, deleted.as_str()] {
                match render(candidate, &d) {
                    Ok(_) => rendered += 1,
                    Err(err) => assert!(err.line >= 1 && err.col >= 1, "{candidate}: {err}"),
                }
            }
        }
    }
    assert!(rendered > 10, "only {rendered} variants rendered");
}

fn pos_msg(t: &str) -> (usize, usize, String) {
    let err = e(t);
    (err.line, err.col, err.to_string())
}

#[test]
fn parse_errors() {
    assert_eq!(
        pos_msg("abcdefgh {{foo}}"),
        (
            1,
            12,
            r#"template: 1:12: unknown function "foo""#.to_string()
        )
    );
    assert_eq!(
        pos_msg("ab {{.State"),
        (1, 4, "template: 1:4: unclosed action".into())
    );
    assert_eq!(
        e("x\n  {{/* open").to_string(),
        "template: 2:3: unclosed comment"
    );
    assert_eq!(
        e("{{/* c */ .X}}").kind,
        ErrorKind::Syntax("comment ends before closing delimiter".into())
    );
    assert_eq!(e(r#"{{"abc}}"#).kind, ErrorKind::UnterminatedString);
    assert_eq!(e("{{`abc}}").kind, ErrorKind::UnterminatedString);
    assert_eq!(
        e(r#"{{"a\qb"}}"#).kind,
        ErrorKind::Syntax("unknown escape sequence: \\q".into())
    );
    assert_eq!(
        e("{{range .Args}}x").to_string(),
        r#"template: 1:3: unexpected EOF: missing {{end}} for "range""#
    );
    assert_eq!(
        e("{{if 1}}{{else}}").kind,
        ErrorKind::MissingEnd("if".into())
    );
    assert_eq!(
        e("x{{end}}").to_string(),
        "template: 1:4: unexpected {{end}}"
    );
    assert_eq!(e("{{else}}").kind, unexpected("{{else}}"));
    assert_eq!(
        e("{{if 1}}a{{else}}b{{else}}c{{end}}").kind,
        unexpected("{{else}} after {{else}}")
    );
    assert_eq!(
        e("{{with 1}}{{else if 1}}{{end}}").kind,
        ErrorKind::Unexpected("{{else if}} in {{with}}".into())
    );
    assert_eq!(
        e("line1\n{{$nope}}").to_string(),
        r#"template: 2:3: undefined variable "$nope""#
    );
    assert_eq!(
        e("{{$x = 1}}").kind,
        ErrorKind::UndefinedVariable("$x".into())
    );
    assert_eq!(e("{{12abc}}").kind, ErrorKind::BadNumber("12abc".into()));
    assert_eq!(
        e("{{.A & .B}}").to_string(),
        "template: 1:6: unrecognized character in action: '&'"
    );
    assert_eq!(e("{{}}").kind, ErrorKind::MissingValue);
    assert_eq!(e("{{.A |}}").kind, ErrorKind::MissingValue);
    assert_eq!(
        e("{{(len .A}}").kind,
        ErrorKind::Syntax("unclosed left paren".into())
    );
    assert_eq!(e("{{.A)}}").kind, unexpected("right paren"));
    assert_eq!(
        e("{{break}}").kind,
        ErrorKind::Syntax("{{break}} outside {{range}}".into())
    );
    assert_eq!(
        e("{{range .A}}{{else}}{{continue}}{{end}}").kind,
        ErrorKind::Syntax("{{continue}} outside {{range}}".into())
    );
    assert_eq!(
        e(r#"{{define "x"}}{{end}}"#).kind,
        ErrorKind::Syntax("{{define}} is not supported".into())
    );
    assert_eq!(
        e("{{.A if}}").kind,
        ErrorKind::Unexpected("<if> in command".into())
    );
    assert_eq!(
        e("{{.A := 1}}").kind,
        ErrorKind::Unexpected("\":=\" in operand".into())
    );
    assert_eq!(
        e("{{$a := 1}}{{if $a, $b := .X}}{{end}}").kind,
        ErrorKind::Unexpected("\",\" in operand".into())
    );
}

#[test]
fn exec_errors() {
    assert_eq!(
        e("{{range .State.Status}}x{{end}}").to_string(),
        "template: 1:9: range over non-iterable value of type string"
    );
    assert_eq!(
        e("{{range true}}{{end}}").kind,
        ErrorKind::RangeNonIterable("bool")
    );
    assert_eq!(
        e("{{.State.Status.Foo}}").to_string(),
        "template: 1:3: can't evaluate field Foo in type string"
    );
    assert_eq!(e("{{.Id 1}}").kind, ErrorKind::NotAFunction(".Id".into()));
    assert_eq!(
        e("{{.Id | .Name}}").kind,
        ErrorKind::NotAFunction(".Name".into())
    );
    assert_eq!(
        e("{{nil}}").kind,
        ErrorKind::Syntax("nil is not a command".into())
    );
    assert_eq!(
        e("{{len .Args .Id}}").to_string(),
        "template: 1:3: wrong number of args for len: want 1 got 2"
    );
    assert_eq!(
        e("{{index .Args 5}}").to_string(),
        "template: 1:3: error calling index: index out of range: 5"
    );
    assert_eq!(
        e(r#"{{index .Args "x"}}"#).kind,
        call_err("index", "wrong type for value; expected int; got string")
    );
    assert_eq!(
        e("{{index .Config.Labels 1}}").kind,
        call_err("index", "value has type int; should be string")
    );
    assert_eq!(
        e(r#"{{eq .Port "8080"}}"#).kind,
        call_err("eq", "incompatible types for comparison")
    );
    assert_eq!(
        e("{{eq .Args .Args}}").kind,
        call_err("eq", "non-comparable types")
    );
    assert_eq!(
        e("{{lt true false}}").kind,
        call_err("lt", "invalid type for comparison")
    );
    assert_eq!(
        e("{{eq 1}}").kind,
        call_err("eq", "missing argument for comparison")
    );
    assert_eq!(e("{{len .Port}}").kind, call_err("len", "len of type int"));
    assert_eq!(
        e("{{upper .Port}}").kind,
        call_err("upper", "wrong type for value; expected string; got int")
    );
    assert_eq!(
        e("{{join .Id \",\"}}").kind,
        call_err(
            "join",
            "wrong type for value; expected []string; got string"
        )
    );
    assert_eq!(
        e("{{and}}").kind,
        ErrorKind::ArgCount {
            name: "and".into(),
            want: "at least 1".into(),
            got: 0
        }
    );
    assert_eq!(
        e("{{slice .Id 3 1}}").kind,
        call_err("slice", "invalid slice index: 3 > 1")
    );
    assert_eq!(
        e("{{printf 1}}").kind,
        call_err("printf", "wrong type for value; expected string; got int")
    );
}
