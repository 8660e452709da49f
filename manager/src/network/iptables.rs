//! The iptables rules of hulld's bridges (what the CNI bridge, portmap and
//! firewall plugins install, in fewer rules and fewer program runs).
//!
//! Per bridge, once per hulld run, in chains named after the bridge (which
//! hulld owns, so they are rewritten whole, and removed with a user
//! network):
//! - nat `HULL-POST-<bridge>` (from POSTROUTING): masquerade what leaves the
//!   subnet by another interface (not on an internal network); what reaches
//!   a container through a published port from 127.0.0.0/8 (route_localnet
//!   is set on the bridge) or from the subnet itself (a peer or the
//!   container itself, hairpin) is masqueraded to the gateway so the answer
//!   comes back through NAT.
//! - filter `HULL-FWD-<bridge>` (from FORWARD): accept what leaves the
//!   bridge, and what enters it as an answer or through a published port,
//!   so a FORWARD policy of DROP does not cut containers off; on an
//!   internal network only what stays on the bridge, the rest is dropped.
//!
//! Per container with published ports only: DNAT rules in nat `HULL-DNAT`
//! (from PREROUTING and OUTPUT for local destinations), one
//! `iptables-restore --noflush` to add them all and one to delete them.
//! A container without `-p` costs no iptables run at all.

use std::io::Write;
use std::process::{Command, Stdio};

use super::ports::Binding;
use crate::error::{Error, Result};

const DNAT_CHAIN: &str = "HULL-DNAT";

fn post_chain(bridge: &str) -> String {
    format!("HULL-POST-{bridge}")
}

fn fwd_chain(bridge: &str) -> String {
    format!("HULL-FWD-{bridge}")
}

/// `iptables ARGS` (waiting for the xtables lock); Err with its stderr.
fn iptables(args: &[&str]) -> std::result::Result<(), String> {
    let o = Command::new("iptables")
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run iptables: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    }
}

/// `iptables-restore --noflush` of `rules` (one transaction).
fn restore(rules: &str) -> std::result::Result<(), String> {
    let mut child = Command::new("iptables-restore")
        .args(["-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("run iptables-restore: {e}"))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(rules.as_bytes())
            .map_err(|e| format!("write to iptables-restore: {e}"))?;
    }
    let o = child
        .wait_with_output()
        .map_err(|e| format!("wait for iptables-restore: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    }
}

/// Insert `rule` at the top of `chain` of `table` unless it is there.
fn ensure_jump(table: &str, chain: &str, rule: &[&str]) -> std::result::Result<(), String> {
    let mut check = vec!["-t", table, "-C", chain];
    check.extend_from_slice(rule);
    if iptables(&check).is_ok() {
        return Ok(());
    }
    let mut insert = vec!["-t", table, "-I", chain, "1"];
    insert.extend_from_slice(rule);
    iptables(&insert)
}

/// Make `chain` of `table` exist (kept as it is when it does).
fn ensure_chain(table: &str, chain: &str) -> std::result::Result<(), String> {
    match iptables(&["-t", table, "-N", chain]) {
        Ok(()) => Ok(()),
        Err(_) if iptables(&["-t", table, "-S", chain]).is_ok() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The rules of bridge `bridge` with subnet `subnet` (CIDR text);
/// `internal`: nothing leaves the bridge.
pub fn ensure_bridge_rules(bridge: &str, subnet: &str, internal: bool) -> Result<()> {
    let post = post_chain(bridge);
    let fwd = fwd_chain(bridge);
    let r = (|| -> std::result::Result<(), String> {
        // A chain made just now has no jump to it yet: no need to look.
        let new_post = iptables(&["-t", "nat", "-N", &post]).is_ok();
        let new_fwd = iptables(&["-t", "filter", "-N", &fwd]).is_ok();
        ensure_chain("nat", DNAT_CHAIN)?;
        let (out_nat, out_fwd) = if internal {
            (
                String::new(),
                format!(
                    "-A {fwd} -i {bridge} -o {bridge} -j ACCEPT\n\
                     -A {fwd} -i {bridge} -j DROP\n\
                     -A {fwd} -o {bridge} -j DROP\n"
                ),
            )
        } else {
            (
                format!("-A {post} -s {subnet} ! -o {bridge} -j MASQUERADE\n"),
                format!(
                    "-A {fwd} -i {bridge} -j ACCEPT\n\
                     -A {fwd} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
                     -A {fwd} -o {bridge} -m conntrack --ctstate DNAT -j ACCEPT\n"
                ),
            )
        };
        let jump = |new: bool, chain: &str, target: &str| {
            if new {
                format!("-I {chain} 1 -j {target}\n")
            } else {
                String::new()
            }
        };
        let rules = format!(
            "*nat\n\
             -F {post}\n\
             {out_nat}\
             -A {post} -s 127.0.0.0/8 -o {bridge} -j MASQUERADE\n\
             -A {post} -s {subnet} -o {bridge} -m conntrack --ctstate DNAT -j MASQUERADE\n\
             {jpost}\
             COMMIT\n\
             *filter\n\
             -F {fwd}\n\
             {out_fwd}\
             {jfwd}\
             COMMIT\n",
            jpost = jump(new_post, "POSTROUTING", &post),
            jfwd = jump(new_fwd, "FORWARD", &fwd),
        );
        restore(&rules)?;
        if !new_post {
            ensure_jump("nat", "POSTROUTING", &["-j", &post])?;
        }
        if !new_fwd {
            ensure_jump("filter", "FORWARD", &["-j", &fwd])?;
        }
        let local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN];
        ensure_jump("nat", "PREROUTING", &local)?;
        ensure_jump("nat", "OUTPUT", &local)
    })();
    r.map_err(|e| Error::FailedPrecondition(format!("iptables rules of bridge {bridge}: {e}")))
}

/// Remove the chains of bridge `bridge` and the jumps to them (those
/// already gone are skipped; failures are logged).
pub fn remove_bridge_rules(bridge: &str) {
    let post = post_chain(bridge);
    let fwd = fwd_chain(bridge);
    let all = format!(
        "*nat\n-D POSTROUTING -j {post}\n-F {post}\n-X {post}\nCOMMIT\n\
         *filter\n-D FORWARD -j {fwd}\n-F {fwd}\n-X {fwd}\nCOMMIT\n"
    );
    if restore(&all).is_ok() {
        return;
    }
    // Part of it was gone (a transaction is all or nothing): step by step.
    for (table, parent, chain) in [("nat", "POSTROUTING", &post), ("filter", "FORWARD", &fwd)] {
        while iptables(&["-t", table, "-D", parent, "-j", chain]).is_ok() {}
        let _ = iptables(&["-t", table, "-F", chain]);
        if let Err(e) = iptables(&["-t", table, "-X", chain]) {
            tracing::debug!(bridge, chain, "delete chain: {e}");
        }
    }
}

/// The DNAT rules of one container (address `ip`), as `-A` lines without
/// the command; `owner` (`<ns>/<id>`) is written in their comment.
pub fn dnat_rules(owner: &str, ip: &str, bindings: &[Binding]) -> Vec<String> {
    bindings
        .iter()
        .map(|b| {
            let dst = if b.host_ip.is_empty() {
                String::new()
            } else {
                format!("-d {}/32 ", b.host_ip)
            };
            format!(
                "{DNAT_CHAIN} {dst}-p {proto} -m {proto} --dport {hp} -m comment --comment \"hull {owner}\" -j DNAT --to-destination {ip}:{cp}",
                proto = b.proto,
                hp = b.host_port,
                cp = b.container_port,
            )
        })
        .collect()
}

/// Add a container's DNAT rules (all or none).
pub fn add_dnat(rules: &[String]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let text: String = std::iter::once("*nat\n".to_string())
        .chain(rules.iter().map(|r| format!("-A {r}\n")))
        .chain(std::iter::once("COMMIT\n".to_string()))
        .collect();
    restore(&text).map_err(|e| Error::FailedPrecondition(format!("publish ports: {e}")))
}

/// Delete a container's DNAT rules; those already gone are skipped.
pub fn del_dnat(rules: &[String]) {
    if rules.is_empty() {
        return;
    }
    let text: String = std::iter::once("*nat\n".to_string())
        .chain(rules.iter().map(|r| format!("-D {r}\n")))
        .chain(std::iter::once("COMMIT\n".to_string()))
        .collect();
    if restore(&text).is_ok() {
        return;
    }
    // One of them was gone (the transaction is all or nothing): one by one.
    for r in rules {
        let mut args = vec!["-t".to_string(), "nat".into(), "-D".into()];
        args.extend(split_rule(r));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Err(e) = iptables(&refs) {
            tracing::debug!(rule = %r, "delete DNAT rule: {e}");
        }
    }
}

/// A rule line split into arguments ("…" quotes one argument).
fn split_rule(r: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in r.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnat_rule_text_and_split() {
        let b = Binding {
            host_ip: "127.0.0.1".into(),
            host_port: 8080,
            container_port: 80,
            proto: "tcp".into(),
        };
        let r = dnat_rules("default/abc", "10.88.0.2", &[b]);
        assert_eq!(
            r[0],
            "HULL-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment \"hull default/abc\" -j DNAT --to-destination 10.88.0.2:80"
        );
        let a = split_rule(&r[0]);
        assert!(a.contains(&"hull default/abc".to_string()), "{a:?}");
        assert_eq!(a.last().map(String::as_str), Some("10.88.0.2:80"));
    }
}
