use super::*;

fn ignore(text: &str) -> Dockerignore {
    Dockerignore::parse(text).unwrap()
}

#[test]
fn docker_reference_example() {
    let d = ignore("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
    assert!(d.matches("somedir/temporary.txt"));
    assert!(d.matches("somedir/temp"));
    assert!(d.matches("somedir/subdir/temporary.txt"));
    assert!(d.matches("tempa"));
    assert!(d.matches("tempb"));
    assert!(!d.matches("temp"));
    assert!(!d.matches("tempab"));
    assert!(!d.matches("temporary.txt"));
    assert!(!d.matches("a/b/c/temp"));
    assert!(!d.matches("# comment"));
}

#[test]
fn double_star_any_number_of_directories() {
    let d = ignore("**/*.go\n");
    assert!(d.matches("main.go"));
    assert!(d.matches("a/b/c/main.go"));
    assert!(!d.matches("main.rs"));
    let d = ignore("a/**/z\n");
    assert!(d.matches("a/z"));
    assert!(d.matches("a/b/c/z"));
    assert!(!d.matches("b/z"));
    let d = ignore("logs/**\n");
    assert!(d.matches("logs/x/y.log"));
}

#[test]
fn exceptions_and_last_match_wins() {
    let d = ignore("*.md\n!README.md\n");
    assert!(d.matches("CHANGES.md"));
    assert!(!d.matches("README.md"));

    let d = ignore("*.md\n!README*.md\nREADME-secret.md\n");
    assert!(d.matches("README-secret.md"));
    assert!(!d.matches("README-public.md"));

    let d = ignore("*.md\nREADME-secret.md\n!README*.md\n");
    assert!(!d.matches("README-secret.md"));
    assert!(d.matches("other.md"));
}

#[test]
fn include_only_what_is_listed() {
    let d = ignore("*\n!src\n!Cargo.toml\n");
    assert!(d.matches("target/debug/x"));
    assert!(!d.matches("src/main.rs"));
    assert!(!d.matches("Cargo.toml"));
}

#[test]
fn a_matching_directory_covers_its_contents() {
    let d = ignore("/foo/bar\n");
    assert!(d.matches("foo/bar"));
    assert!(d.matches("foo/bar/baz/file"));
    assert!(!d.matches("x/foo/bar"));
    assert!(!d.matches("foo/barn"));
    let d = ignore("docs\n!docs/keep.md\n");
    assert!(d.matches("docs/other.md"));
    assert!(!d.matches("docs/keep.md"));
}

#[test]
fn patterns_and_paths_are_cleaned() {
    let d = ignore("  ./build//out/  \n!  ./build/out/keep \n");
    assert_eq!(d.patterns[0].text, "build/out");
    assert!(d.patterns[1].exception);
    assert_eq!(d.patterns[1].text, "build/out/keep");
    assert!(d.matches("./build/out/x"));
    assert!(!d.matches("build/out/keep"));
    assert_eq!(clean("a/../../b"), "../b");
    assert_eq!(clean("/../a/."), "/a");
    assert_eq!(clean(""), ".");
}

#[test]
fn comments_only_in_column_one() {
    let d = ignore("#ignored\n #x\n");
    assert_eq!(d.patterns.len(), 1);
    assert!(d.matches("#x"));
}

#[test]
fn classes_escapes_and_question_mark() {
    let d = ignore("file[0-9].txt\nlog[^a].txt\n\\*star\nx?y\n");
    assert!(d.matches("file7.txt"));
    assert!(!d.matches("filex.txt"));
    assert!(d.matches("logb.txt"));
    assert!(!d.matches("loga.txt"));
    assert!(d.matches("*star"));
    assert!(!d.matches("astar"));
    assert!(d.matches("x-y"));
    assert!(!d.matches("x/y"));
}

#[test]
fn star_does_not_cross_directories() {
    let d = ignore("*.txt\n");
    assert!(d.matches("a.txt"));
    assert!(!d.matches("dir/a.txt"));
}

#[test]
fn bad_patterns_name_their_line() {
    let err = Dockerignore::parse("ok\n[abc\n").unwrap_err();
    assert_eq!(err.to_string(), ".dockerignore:2: bad pattern \"[abc\"");
    assert!(Dockerignore::parse("[]\n").is_err());
    assert!(Dockerignore::parse("[z-a]\n").is_err());
    assert!(Dockerignore::parse("trailing\\\n").is_err());
}

#[test]
fn empty_file_ignores_nothing() {
    assert!(!ignore("\n\n# only comments\n").matches("anything"));
}

#[test]
fn directories_a_walk_can_skip() {
    let d = ignore("node_modules\ndocs\n!docs/keep.md\n");
    assert!(d.skips_dir("node_modules"));
    assert!(d.skips_dir("node_modules/x"));
    assert!(!d.skips_dir("docs"));
    assert!(!d.skips_dir("src"));
    let d = ignore("vendor\n!**/keep\n");
    assert!(d.skips_dir("vendor"));
}

#[test]
fn path_match_is_go_filepath_match() {
    assert!(path_match("*.txt", "a.txt"));
    assert!(!path_match("*.txt", "d/a.txt"));
    assert!(path_match("f?le[0-9]", "file7"));
    assert!(!path_match("[", "["));
    assert!(is_glob("a*") && !is_glob("plain/path"));
    assert_eq!(clean("/a/../b/./c/"), "/b/c");
}
