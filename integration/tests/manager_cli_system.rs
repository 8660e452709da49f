//! `hull system df` and `hull system prune`.

mod manager_support;

use std::collections::HashMap;

use manager_support::cli::{exec, lines, setup};
use manager_support::*;

// ------------------------------------------------------------ system
fn df_json(h: &Hulld) -> HashMap<String, serde_json::Value> {
    h.hull_ok(&["system", "df", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["Type"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// `hull images --format json`: unique image IDs with their sizes.
fn image_sizes(h: &Hulld) -> HashMap<String, i64> {
    h.hull_ok(&["images", "--no-trunc", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["ID"].as_str().unwrap().to_string(),
                v["SizeBytes"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Docker's HumanSize as hull prints it (4 significant digits, kB/MB).
fn human(n: i64) -> String {
    let mut v = n as f64;
    let units = ["B", "kB", "MB", "GB"];
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        return format!("{n}B");
    }
    let dec = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.dec$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", units[i])
}

#[test]
fn system_df_and_prune() {
    require_root!();
    let (reg, l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    // A second image (one more layer), and a tag that moves: its first
    // image becomes dangling (no name) when the tag is pulled again.
    l.layer("bb", "bb2", |r| {
        std::fs::write(r.join("extra"), vec![7u8; 300_000]).unwrap()
    });
    l.layer("bb", "bb3", |r| {
        std::fs::write(r.join("third"), vec![9u8; 200_000]).unwrap()
    });
    let second = reg.reference("cli/second:v1");
    let moving = reg.reference("cli/moving:v1");
    l.push("bb2", &second, &[]);
    l.push("bb3", &moving, &[]);
    h.hull_ok(&["pull", "-q", &second]);
    h.hull_ok(&["pull", "-q", &moving]);
    let old_manifest = h.inspect(&moving)["ManifestDigest"]
        .as_str()
        .unwrap()
        .to_string();
    let old_layer = h.inspect(&moving)["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    l.push("bb2", &moving, &[]);
    h.hull_ok(&["pull", "-q", &moving]);
    assert!(
        h.blob_path(&old_manifest).exists(),
        "the old image is still stored"
    );

    h.hull_ok(&["run", "-d", "--name", "up", &image, "sleep", "1000"]);
    h.hull_ok(&[
        "run",
        "--name",
        "stopped",
        &image,
        "sh",
        "-c",
        "head -c 20000 /dev/zero > /junk",
    ]);
    let stopped = h
        .hull_ok(&["inspect", "--format", "{{.Id}}", "stopped"])
        .trim()
        .to_string();

    // df agrees with the image list: unique IDs and their summed sizes
    // (the moved tag's old image listed as <none>, as Docker).
    let sizes = image_sizes(&h);
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    let total: i64 = sizes.values().sum();
    let df = df_json(&h);
    assert_eq!(df["Images"]["TotalCount"], sizes.len().to_string());
    assert_eq!(df["Images"]["Active"], "1");
    assert_eq!(df["Images"]["Size"], human(total));
    let used = sizes[&h.inspect(&image)["Id"].as_str().unwrap().to_string()];
    let rec = total - used;
    assert_eq!(
        df["Images"]["Reclaimable"],
        format!("{} ({}%)", human(rec), rec * 100 / total)
    );
    assert_eq!(df["Containers"]["TotalCount"], "2");
    assert_eq!(df["Containers"]["Active"], "1");
    let csize = df["Containers"]["Size"].as_str().unwrap().to_string();
    // The 20000 bytes written, and some metadata.
    let kb: f64 = csize
        .strip_suffix("kB")
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    assert!((20.0..100.0).contains(&kb), "{csize}");
    // The stopped container's layer is most of it, not all (the running
    // one has its mount points).
    let crec = df["Containers"]["Reclaimable"].as_str().unwrap();
    let pct: i64 = crec
        .rsplit_once('(')
        .and_then(|(_, p)| p.strip_suffix("%)"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{crec}"));
    assert!((50..100).contains(&pct), "{crec}");
    assert_eq!(df["Local Volumes"]["TotalCount"], "0");
    h.hull_ok(&["volume", "create", "keep"]);
    let dv = &df_json(&h)["Local Volumes"];
    assert_eq!(
        (dv["TotalCount"].as_str(), dv["Active"].as_str()),
        (Some("1"), Some("0"))
    );
    assert_eq!(df["Build Cache"]["Size"], "0B");
    let table = lines(&h.hull_ok(&["system", "df"]));
    assert_eq!(table.len(), 5, "{table:?}");
    let head: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(head, ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert!(
        table[1].starts_with("Images ") && table[1].contains(&human(total)),
        "{}",
        table[1]
    );

    // Without -f and a "no": nothing happens.
    let o = h.hull_stdin(&["system", "prune"], "n\n");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Are you sure you want to continue? [y/N]"));
    assert!(h
        .hull_ok(&["ps", "-a", "-q", "--no-trunc"])
        .contains(&stopped));

    // prune -f: the stopped container and the dangling image go; the
    // running container and the named images stay.
    let out = h.hull_ok(&["system", "prune", "-f"]);
    let ol = lines(&out);
    let at = ol
        .iter()
        .position(|l| l == "Deleted Containers:")
        .expect(&out);
    assert_eq!(ol[at + 1], stopped);
    assert!(out.contains(&format!("deleted: {old_manifest}")), "{out}");
    assert!(out.contains(&format!("deleted: {old_layer}")), "{out}");
    assert!(
        ol.last().unwrap().starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert!(!h.blob_path(&old_manifest).exists());
    assert!(!h.blob_path(&old_layer).exists());
    let left = h.hull_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "up");
    assert_eq!(image_sizes(&h).len(), 2);
    assert_eq!(df_json(&h)["Containers"]["TotalCount"], "1");

    // prune -a -f: images without containers go too.
    let out = h.hull_ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: "), "{out}");
    assert!(
        out.contains("cli/second:v1") && out.contains("cli/moving:v1"),
        "{out}"
    );
    let names = h.hull_ok(&["images", "--format", "json"]);
    assert_eq!(names.lines().count(), 1, "{names}");
    assert!(names.contains("cli/busybox"), "{names}");
    let df = df_json(&h);
    assert_eq!(df["Images"]["TotalCount"], "1");
    assert_eq!(df["Images"]["Reclaimable"], format!("{} (0%)", human(0)));
    // `image prune -a` keeps an image a container uses too.
    h.hull_ok(&["image", "prune", "-a", "-f"]);
    let names = h.hull_ok(&["images", "--format", "json"]);
    assert!(names.contains("cli/busybox"), "{names}");
    // The running container still works.
    assert_eq!(exec(&h, "up", "echo ok"), "ok\n");
}
