//! Rendering: data access, control flow, functions and values printed as
//! Go prints them.

use super::*;
use serde_json::json;

pub(super) fn data() -> Value {
    json!({
        "Id": "4f66ad9a0b2e",
        "Name": "/web",
        "Port": 8080,
        "Ratio": 0.25,
        "Big": 1234567.5,
        "Args": ["-g", "daemon off;"],
        "Empty": [],
        "Null": null,
        "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0},
        "Config": {
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Env": ["PATH=/usr/bin", "A=1"],
            "Labels": {"com.example": "yes", "b": "2", "a": "1"},
            "Html": "<a&b>"
        },
        "NetworkSettings": {"Networks": {
            "bridge": {"IPAddress": "172.17.0.2"},
            "alpha": {"IPAddress": "10.0.0.5"}
        }}
    })
}

pub(super) fn r(t: &str) -> String {
    match render(t, &data()) {
        Ok(s) => s,
        Err(e) => panic!("{t:?} failed: {e}"),
    }
}

pub(super) fn e(t: &str) -> TemplateError {
    match render(t, &data()) {
        Ok(s) => panic!("{t:?} rendered {s:?}, expected an error"),
        Err(e) => e,
    }
}

#[test]
fn field_chains() {
    assert_eq!(r("{{.State.Status}}"), "running");
    assert_eq!(r("status={{ .State.Status }}!"), "status=running!");
    assert_eq!(r("{{.State.Pid}}"), "4242");
    assert_eq!(r("{{.Config.Env}}"), "[PATH=/usr/bin A=1]");
    assert_eq!(r("{{.Config.Labels}}"), "map[a:1 b:2 com.example:yes]");
    assert_eq!(r("{{.State.Running}}"), "true");
    assert_eq!(r("plain text"), "plain text");
    assert_eq!(r(""), "");
}

#[test]
fn missing_is_no_value() {
    assert_eq!(r("{{.Missing}}"), "<no value>");
    assert_eq!(r("{{.Missing.Deeper}}"), "<no value>");
    assert_eq!(r("{{.Null}}"), "<no value>");
    assert_eq!(r("{{.State.Nope}}"), "<no value>");
}

#[test]
fn json_function() {
    let state = r("{{json .State}}");
    assert!(!state.contains(' ') && !state.contains('\n'), "{state}");
    assert_eq!(
        serde_json::from_str::<Value>(&state).unwrap(),
        data()["State"]
    );
    let cfg = r("{{json .Config}}");
    assert!(!cfg.ends_with('\n'));
    let back: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(back, data()["Config"]);
    // Docker disables HTML escaping.
    assert!(cfg.contains("<a&b>"), "{cfg}");
    assert_eq!(
        r("{{.Config.Cmd | json}}"),
        r#"["nginx","-g","daemon off;"]"#
    );
    assert_eq!(r("{{json .Missing}}"), "null");
    assert_eq!(r("{{json .Id}}"), r#""4f66ad9a0b2e""#);
}

#[test]
fn range_over_object_is_sorted() {
    assert_eq!(
        r("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"),
        "10.0.0.5 172.17.0.2 "
    );
    assert_eq!(
        r("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}"),
        "a=1 b=2 com.example=yes "
    );
    assert_eq!(
        r("{{range $n, $c := .NetworkSettings.Networks}}{{$n}}:{{$c.IPAddress}};{{end}}"),
        "alpha:10.0.0.5;bridge:172.17.0.2;"
    );
}

#[test]
fn range_over_array() {
    assert_eq!(
        r("{{range $i, $e := .Args}}{{$i}}:{{$e}} {{end}}"),
        "0:-g 1:daemon off; "
    );
    assert_eq!(
        r("{{range $e := .Args}}[{{$e}}]{{end}}"),
        "[-g][daemon off;]"
    );
    assert_eq!(
        r("{{range .Config.Env}}{{.}},{{end}}"),
        "PATH=/usr/bin,A=1,"
    );
    assert_eq!(r("{{range .Empty}}x{{else}}none{{end}}"), "none");
    assert_eq!(r("{{range .Missing}}x{{else}}none{{end}}"), "none");
    assert_eq!(r("{{range .Args}}x{{else}}none{{end}}"), "xx");
    assert_eq!(r("{{range 3}}{{.}}{{end}}"), "012");
}

#[test]
fn range_dollar_and_scoping() {
    assert_eq!(r("{{range .Args}}{{$.Name}}{{end}}"), "/web/web");
    assert_eq!(
        r("{{$x := .Id}}{{range .Args}}{{$x}} {{end}}"),
        "4f66ad9a0b2e 4f66ad9a0b2e "
    );
    // A variable declared inside the body does not leak past {{end}}.
    let err = e("{{range .Args}}{{$y := 1}}{{end}}{{$y}}");
    assert_eq!(err.kind, ErrorKind::UndefinedVariable("$y".into()));
    assert_eq!(
        r("{{$n := 0}}{{range .Args}}{{$n = .}}{{end}}{{$n}}"),
        "daemon off;"
    );
}

#[test]
fn break_and_continue() {
    assert_eq!(
        r(r#"{{range .Config.Cmd}}{{if eq . "-g"}}{{continue}}{{end}}{{.}};{{end}}"#),
        "nginx;daemon off;;"
    );
    assert_eq!(
        r(r#"{{range .Config.Cmd}}{{if eq . "-g"}}{{break}}{{end}}{{.}};{{end}}"#),
        "nginx;"
    );
}

#[test]
fn index_function() {
    assert_eq!(r(r#"{{index .Config.Labels "com.example"}}"#), "yes");
    assert_eq!(r(r#"{{index .Config.Labels "nope"}}"#), "<no value>");
    assert_eq!(r("{{index .Args 1}}"), "daemon off;");
    assert_eq!(
        r(r#"{{index .NetworkSettings.Networks "bridge" "IPAddress"}}"#),
        "172.17.0.2"
    );
    assert_eq!(
        r(r#"{{(index .NetworkSettings.Networks "alpha").IPAddress}}"#),
        "10.0.0.5"
    );
    assert_eq!(r(r#"{{index (index .Config "Cmd") 0}}"#), "nginx");
    assert_eq!(r(r#"{{index .Missing "x"}}"#), "<no value>");
}

#[test]
fn if_else_chains() {
    assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(r("{{if .Missing}}up{{else}}down{{end}}"), "down");
    let t = r#"{{if eq .State.Status "exited"}}E{{else if eq .State.Status "running"}}R{{else}}?{{end}}"#;
    assert_eq!(r(t), "R");
    assert_eq!(r("{{if .Missing}}a{{else if .Null}}b{{end}}"), "");
    assert_eq!(
        r("{{if $x := .State.Pid}}pid {{$x}}{{else}}none{{end}}"),
        "pid 4242"
    );
}

#[test]
fn go_truthiness() {
    let cases = [
        (json!(false), false),
        (json!(true), true),
        (json!(0), false),
        (json!(0.0), false),
        (json!(7), true),
        (json!(-1.5), true),
        (json!(""), false),
        (json!("x"), true),
        (json!([]), false),
        (json!([0]), true),
        (json!({}), false),
        (json!({"a": 1}), true),
        (json!(null), false),
    ];
    for (v, want) in cases {
        let got = render("{{if .}}T{{else}}F{{end}}", &v).unwrap();
        assert_eq!(got, if want { "T" } else { "F" }, "{v}");
    }
}

#[test]
fn with_blocks() {
    assert_eq!(
        r("{{with .State}}{{.Status}}/{{.Pid}}{{end}}"),
        "running/4242"
    );
    assert_eq!(r("{{with .Missing}}x{{else}}none{{end}}"), "none");
    assert_eq!(
        r("{{with .Missing}}x{{else with .Id}}{{.}}{{end}}"),
        "4f66ad9a0b2e"
    );
    assert_eq!(r("{{with $s := .State}}{{$s.Status}}{{end}}"), "running");
}

#[test]
fn printf_widths_and_verbs() {
    assert_eq!(r(r#"{{printf "%-8s|%5d" .Name .Port}}"#), "/web    | 8080");
    assert_eq!(
        r(r#"{{printf "%s=%v %q %t" .Id .Port .Name .State.Running}}"#),
        r#"4f66ad9a0b2e=8080 "/web" true"#
    );
    assert_eq!(
        r(r#"{{printf "%x %X %#x %x" 255 255 255 "hi"}}"#),
        "ff FF 0xff 6869"
    );
    assert_eq!(
        r(r#"{{printf "%05d|%+d|%.2f|%8.3f|%e" 42 7 .Ratio 3.14159 1234.5}}"#),
        "00042|+7|0.25|   3.142|1.234500e+03"
    );
    assert_eq!(
        r(r#"{{printf "%v %g %v" .Ratio .Big .Args}}"#),
        "0.25 1.2345675e+06 [-g daemon off;]"
    );
    assert_eq!(r(r#"{{printf "%d%%" 50}}"#), "50%");
    assert_eq!(r(r#"{{printf "%c%c" 104 'i'}}"#), "hi");
    assert_eq!(r(r#"{{printf "%q" "a\"b\n"}}"#), r#""a\"b\n""#);
    assert_eq!(r(r#"{{printf "%6.2s|" "abcdef"}}"#), "    ab|");
    assert_eq!(r(r#"{{.Name | printf "name=%s"}}"#), "name=/web");
}

#[test]
fn printf_mistakes_render_like_go() {
    assert_eq!(r(r#"{{printf "%d %s"  1}}"#), "1 %!s(MISSING)");
    assert_eq!(r(r#"{{printf "%d" "x"}}"#), "%!d(string=x)");
    assert_eq!(r(r#"{{printf "%s" 5}}"#), "%!s(int=5)");
    assert_eq!(r(r#"{{printf "x" 1 "y"}}"#), "x%!(EXTRA int=1, string=y)");
    assert_eq!(r(r#"{{printf "%s" .Missing}}"#), "%!s(<nil>)");
}

#[test]
fn value_printing() {
    assert_eq!(
        r("{{.Ratio}} {{.Big}} {{1e3}} {{-5}} {{0x1F}} {{1_000}}"),
        "0.25 1.2345675e+06 1000 -5 31 1000"
    );
    assert_eq!(r("{{true}} {{false}}"), "true false");
    assert_eq!(
        render("{{.}}", &json!([1, null, "x", {"k": [true]}])).unwrap(),
        "[1 <nil> x map[k:[true]]]"
    );
    assert_eq!(render("{{.}}", &json!(1.0)).unwrap(), "1");
    assert_eq!(render("{{.}}", &json!(0.0001)).unwrap(), "0.0001");
    assert_eq!(render("{{.}}", &json!(0.00001)).unwrap(), "1e-05");
}

#[test]
fn docker_string_functions() {
    assert_eq!(r(r#"{{join .Config.Cmd " "}}"#), "nginx -g daemon off;");
    assert_eq!(r(r#"{{join .Missing ","}}"#), "");
    assert_eq!(r(r#"{{split "a:b:c" ":"}}"#), "[a b c]");
    assert_eq!(r(r#"{{index (split .Id "a") 1}}"#), "d9");
    assert_eq!(r(r#"{{len (split "a,b" ",")}}"#), "2");
    assert_eq!(
        r("{{upper .State.Status}} {{lower \"MiXed\"}}"),
        "RUNNING mixed"
    );
    assert_eq!(r(r#"{{title "hello big world"}}"#), "Hello Big World");
    assert_eq!(
        r("{{truncate .Id 4}} {{truncate .Id 99}}"),
        "4f66 4f66ad9a0b2e"
    );
    assert_eq!(r(r#"[{{pad "x" 2 1}}][{{pad "" 2 1}}]"#), "[  x ][]");
    assert_eq!(r("{{.State.Status | upper | printf \"%s!\"}}"), "RUNNING!");
}

#[test]
fn len_print_println_slice() {
    assert_eq!(
        r("{{len .Args}} {{len .Config.Labels}} {{len .Id}} {{len .Missing}}"),
        "2 3 12 0"
    );
    assert_eq!(r(r#"{{print "a" 1 2 "b" "c"}}"#), "a1 2bc");
    assert_eq!(r(r#"{{println "a" 1}}"#), "a 1\n");
    assert_eq!(
        r("{{slice .Id 0 4}} {{slice .Config.Cmd 1}}"),
        "4f66 [-g daemon off;]"
    );
    assert_eq!(
        r(r#"{{html .Config.Html}} {{urlquery "a b&c"}}"#),
        "&lt;a&amp;b&gt; a+b%26c"
    );
}

#[test]
fn comparisons_and_logic() {
    assert_eq!(
        r(r#"{{eq .State.Status "running"}} {{ne .Port 80}}"#),
        "true true"
    );
    assert_eq!(r(r#"{{eq .State.Status "exited" "running"}}"#), "true");
    assert_eq!(
        r("{{lt .Port 9000}} {{le 3 3}} {{gt .Ratio 0.5}} {{ge 2 1.5}}"),
        "true true false true"
    );
    assert_eq!(
        r(r#"{{lt "abc" "abd"}} {{eq .Missing .Null}} {{eq .Missing "x"}}"#),
        "true true false"
    );
    assert_eq!(
        r("{{and .State.Running .Port}} {{and .State.Running .Empty}}"),
        "8080 []"
    );
    assert_eq!(
        r("{{or .Missing .Id}} {{or 0 \"\"}} {{not .Empty}}"),
        "4f66ad9a0b2e  true"
    );
    // and/or short-circuit: the failing index is never evaluated.
    assert_eq!(r("{{or .Id (index .Args 99)}}"), "4f66ad9a0b2e");
    assert_eq!(
        r("{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}"),
        "ok"
    );
}

#[test]
fn trim_markers() {
    assert_eq!(r("a  {{- .State.Status -}}  b"), "arunningb");
    assert_eq!(r("a \n\t{{- .State.Status}} \n b"), "arunning \n b");
    assert_eq!(
        r("{{range .Args -}}\n  [{{.}}]\n{{- end}}"),
        "[-g][daemon off;]"
    );
    assert_eq!(r("{{-3}}"), "-3");
    assert_eq!(r("x {{- /* gone */ -}} y"), "xy");
    assert_eq!(r("a{{/* comment */}}b"), "ab");
}

#[test]
fn nested_range_and_if() {
    let t = "{{range $n, $net := .NetworkSettings.Networks}}{{if eq $n \"bridge\"}}{{range $.Args}}{{$n}}:{{.}};{{end}}{{else}}{{$net.IPAddress}};{{end}}{{end}}";
    assert_eq!(r(t), "10.0.0.5;bridge:-g;bridge:daemon off;;");
    let multi =
        "{{range .Config.Env}}\n  {{- if eq . \"A=1\"}}\n    found {{.}}\n  {{- end}}\n{{- end}}\n";
    assert_eq!(r(multi), "\n    found A=1\n");
}

#[test]
fn literals() {
    assert_eq!(r(r#"{{"}}"}}"#), "}}");
    assert_eq!(r("{{`raw \\n`}}"), "raw \\n");
    assert_eq!(r(r#"{{"tab\there\u00e9"}}"#), "tab\there\u{e9}");
    assert_eq!(r("{{print nil}}"), "<nil>");
    assert_eq!(r("{{(.State).Status}} {{$.State.Pid}}"), "running 4242");
}

#[test]
fn docker_idioms() {
    let d = json!({
        "Mounts": [
            {"Type": "bind", "Source": "/src", "Destination": "/dst", "RW": true},
            {"Type": "volume", "Source": "/var/lib/v", "Destination": "/data", "RW": false}
        ],
        "HostConfig": {"Memory": 0, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
        "Config": {"Labels": null, "Env": null}
    });
    let rr = |t: &str| render(t, &d).unwrap();
    assert_eq!(
        rr("{{range .Mounts}}{{.Source}} -> {{.Destination}}{{if not .RW}} (ro){{end}}{{println}}{{end}}"),
        "/src -> /dst\n/var/lib/v -> /data (ro)\n"
    );
    assert_eq!(
        rr("{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"),
        "0 no"
    );
    assert_eq!(
        rr("{{range $k, $v := .Config.Labels}}{{$k}}{{else}}no labels{{end}}"),
        "no labels"
    );
    assert_eq!(
        rr(r#"{{index .Config.Labels "x"}}|{{len .Config.Env}}|{{join .Config.Env ","}}"#),
        "<no value>|0|"
    );
    assert_eq!(
        render("{{$}}", &json!({"b": 1, "a": [1, 2]})).unwrap(),
        "map[a:[1 2] b:1]"
    );
    assert_eq!(
        rr("{{with .HostConfig.RestartPolicy}}{{.Name}}:{{.MaximumRetryCount}}{{end}}"),
        "no:0"
    );
    assert_eq!(rr("{{json .Config}}"), r#"{"Env":null,"Labels":null}"#);
}

#[test]
fn trim_around_else_and_end() {
    let t = "{{if .State.Running -}}\n  up\n{{- else -}}\n  down\n{{- end}}";
    assert_eq!(r(t), "up");
    assert_eq!(
        render(t, &json!({"State": {"Running": false}})).unwrap(),
        "down"
    );
}
