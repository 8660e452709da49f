//! `hull image history`: the image config's history entries, newest
//! first, each with the size of the layer it made (Docker's columns IMAGE
//! CREATED CREATED BY SIZE COMMENT). Sizes are those of the layers as
//! stored (compressed), the only size Images.Inspect carries.

use hull_proto::v1 as pb;
use serde_json::{json, Map, Value};

use crate::client::Conn;
use crate::containers::Exit;
use crate::images::ago_at;
use crate::progress::{human, short};
use crate::ps::tabwrite;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Do not truncate ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// "json", or a Go template ("table …" for a table).
    #[arg(long)]
    pub format: Option<String>,
    /// Sizes and dates in human form (Docker's default; false: bytes and RFC 3339).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    pub image: String,
}

const TABLE: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// One row: a history entry and the layer it made.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    /// Unix seconds; None when the entry has no (valid) date.
    pub created: Option<i64>,
    pub created_by: String,
    pub size: i64,
    pub comment: String,
}

/// The rows of an image, newest first: its config's history entries, the
/// non-empty ones taking the layers in order; the newest row carries the
/// image id, the others `<missing>` (as Docker shows images it did not
/// build itself). An image without history gets one row per layer.
pub fn rows(image_id: &str, config: &Value, layer_sizes: &[i64]) -> Vec<Row> {
    let history = config["history"].as_array().cloned().unwrap_or_default();
    let mut layers = layer_sizes.iter();
    let mut out: Vec<Row> = if history.is_empty() {
        layer_sizes
            .iter()
            .map(|s| Row {
                id: String::new(),
                created: None,
                created_by: String::new(),
                size: *s,
                comment: String::new(),
            })
            .collect()
    } else {
        history
            .iter()
            .map(|h| {
                let empty = h["empty_layer"].as_bool().unwrap_or(false);
                Row {
                    id: String::new(),
                    created: h["created"].as_str().and_then(parse_rfc3339),
                    created_by: h["created_by"].as_str().unwrap_or_default().to_string(),
                    size: if empty {
                        0
                    } else {
                        layers.next().copied().unwrap_or(0)
                    },
                    comment: h["comment"].as_str().unwrap_or_default().to_string(),
                }
            })
            .collect()
    };
    out.reverse();
    for (i, r) in out.iter_mut().enumerate() {
        r.id = if i == 0 {
            image_id.to_string()
        } else {
            "<missing>".into()
        };
    }
    out
}

/// RFC 3339 (`2024-01-02T03:04:05.678Z`, `…+01:00`) → Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let v = num(s.len() - 5..s.len() - 3)? * 3600 + num(s.len() - 2..s.len())? * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Docker's 45-character cut of a command, tabs as spaces.
fn created_by(text: &str, trunc: bool) -> String {
    let t = text.replace('\t', " ");
    if trunc && t.chars().count() > 45 {
        let mut s: String = t.chars().take(44).collect();
        s.push('…');
        s
    } else {
        t
    }
}

/// A row as the template and json outputs see it.
fn fields(r: &Row, a: &HistoryArgs, now: i64) -> Map<String, Value> {
    let id = if a.no_trunc || r.id == "<missing>" {
        r.id.clone()
    } else {
        short(&r.id)
    };
    let (since, at) = match r.created {
        Some(t) if a.human => (ago_at(now, t), hull_types::time::rfc3339(t)),
        Some(t) => (hull_types::time::rfc3339(t), hull_types::time::rfc3339(t)),
        None => ("N/A".to_string(), String::new()),
    };
    let size = if a.human {
        human(r.size)
    } else {
        r.size.to_string()
    };
    let v = json!({
        "ID": id,
        "CreatedSince": since,
        "CreatedAt": at,
        "CreatedBy": created_by(&r.created_by, !a.no_trunc),
        "Size": size,
        "Comment": r.comment,
    });
    match hull_types::untrusted::escape_json(&v) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The lines `hull image history` prints for `rows`.
pub fn render(rows: &[Row], a: &HistoryArgs, now: i64) -> Result<Vec<String>, String> {
    if a.quiet {
        return Ok(rows
            .iter()
            .map(|r| {
                fields(r, a, now)["ID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect());
    }
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") => TABLE.to_string(),
        Some(f) => f.replace("\\t", "\t").replace("\\n", "\n"),
    };
    if format == "json" {
        return Ok(rows
            .iter()
            .map(|r| Value::Object(fields(r, a, now)).to_string())
            .collect());
    }
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, format.clone()),
    };
    let mut lines = Vec::new();
    if table {
        let mut h = Map::new();
        for (k, v) in [
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ] {
            h.insert(k.into(), Value::String(v.into()));
        }
        lines.push(crate::template::render(&body, &Value::Object(h)).map_err(|e| e.to_string())?);
    }
    for r in rows {
        let v = Value::Object(fields(r, a, now));
        lines.push(crate::template::render(&body, &v).map_err(|e| e.to_string())?);
    }
    if table {
        return Ok(tabwrite(&lines).lines().map(str::to_string).collect());
    }
    Ok(lines)
}

/// `hull image history IMAGE`.
pub async fn history(conn: &Conn, a: HistoryArgs) -> anyhow::Result<()> {
    let r = conn
        .images()
        .inspect(conn.req(pb::GetImageRequest {
            name: a.image.clone(),
            platform: None,
        }))
        .await?
        .into_inner();
    let config: Value = serde_json::from_slice(&r.config).unwrap_or_default();
    let id = r.image.map(|i| i.config_digest).unwrap_or_default();
    let sizes: Vec<i64> = r.layers.iter().map(|l| l.size).collect();
    let rows = rows(&id, &config, &sizes);
    let lines = render(&rows, &a, hull_types::time::now_secs()).map_err(|e| {
        eprintln!("template parsing error: {e}");
        Exit(1)
    })?;
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> HistoryArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct C {
            #[command(flatten)]
            a: HistoryArgs,
        }
        let mut v = vec!["history"];
        v.extend_from_slice(extra);
        v.push("img");
        C::try_parse_from(v).unwrap().a
    }

    fn config() -> Value {
        json!({"history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created": "2024-01-01T00:00:10Z", "created_by": "ENV A=1", "empty_layer": true},
            {"created": "2024-01-01T00:01:00.5Z", "created_by": "RUN /bin/sh -c echo a very long command that goes past forty five\tcharacters", "comment": "buildkit.dockerfile.v0"},
        ]})
    }

    const ID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_704_067_260 + 120; // two minutes after the last entry

    #[test]
    fn rows_pair_history_with_layers_newest_first() {
        let r = rows(ID, &config(), &[1000, 2500]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].id, ID);
        assert_eq!(r[0].size, 2500);
        assert_eq!(r[0].comment, "buildkit.dockerfile.v0");
        assert_eq!(r[1].id, "<missing>");
        assert_eq!(r[1].size, 0);
        assert_eq!(r[2].size, 1000);
        assert_eq!(r[2].created, Some(1_704_067_200));
    }

    #[test]
    fn an_image_without_history_shows_its_layers() {
        let r = rows(ID, &json!({}), &[5, 7]);
        assert_eq!(r.iter().map(|r| r.size).collect::<Vec<_>>(), [7, 5]);
        assert_eq!(r[0].id, ID);
        assert_eq!(r[1].id, "<missing>");
    }

    #[test]
    fn table_truncates_like_docker() {
        let r = rows(ID, &config(), &[1000, 2500]);
        let lines = render(&r, &args(&[]), NOW).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("IMAGE"), "{}", lines[0]);
        for col in ["CREATED", "CREATED BY", "SIZE", "COMMENT"] {
            assert!(lines[0].contains(col));
        }
        assert!(lines[1].starts_with("0123456789ab "), "{}", lines[1]);
        assert!(lines[1].contains("2 minutes ago"));
        assert!(lines[1].contains("RUN /bin/sh -c echo a very long command that…"));
        assert!(lines[1].contains("2.5kB"));
        assert!(lines[2].starts_with("<missing>"));
        assert!(lines[2].contains(" 0B "));
        let full = render(&r, &args(&["--no-trunc"]), NOW).unwrap();
        assert!(full[1].starts_with(ID));
        assert!(full[1].contains("past forty five characters"));
    }

    #[test]
    fn quiet_json_and_templates() {
        let r = rows(ID, &config(), &[1000, 2500]);
        assert_eq!(
            render(&r, &args(&["-q"]), NOW).unwrap(),
            ["0123456789ab", "<missing>", "<missing>"]
        );
        let j = render(&r, &args(&["--format", "json"]), NOW).unwrap();
        let first: Value = serde_json::from_str(&j[0]).unwrap();
        assert_eq!(first["Size"], "2.5kB");
        assert_eq!(first["CreatedAt"], "2024-01-01T00:01:00Z");
        let t = render(&r, &args(&["--format", "{{.Size}}|{{.CreatedBy}}"]), NOW).unwrap();
        assert_eq!(t[1], "0B|ENV A=1");
        let raw = render(
            &r,
            &args(&["--human", "false", "--format", "{{.Size}}"]),
            NOW,
        )
        .unwrap();
        assert_eq!(raw, ["2500", "0", "1000"]);
        assert!(render(&r, &args(&["--format", "{{.Nope"]), NOW).is_err());
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.123456789Z"),
            Some(1_709_208_000)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339("2023-12-31T23:00:00-01:00"),
            Some(1_704_067_200)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    }
}
