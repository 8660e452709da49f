//! Merging a partial JSON document into another, object by object (how a
//! resources update lands in an OCI spec: hullc's `update`, hulld's CRI
//! UpdateContainerResources).

use serde_json::Value;

/// `src` into `dst`: objects merge member by member, anything else replaces.
pub fn merge(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                merge(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (d, s) => *d = s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_what_is_not_named() {
        let mut spec = json!({"linux": {"resources": {
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 1000},
            "cpu": {"shares": 2, "quota": 5}
        }}});
        merge(
            &mut spec["linux"]["resources"],
            &json!({"cpu": {"shares": 512, "cpus": "0"}}),
        );
        assert_eq!(
            spec["linux"]["resources"],
            json!({
                "devices": [{"allow": false, "access": "rwm"}],
                "memory": {"limit": 1000},
                "cpu": {"shares": 512, "quota": 5, "cpus": "0"}
            })
        );
        let mut none = json!({});
        merge(
            &mut none["linux"]["resources"],
            &json!({"memory": {"limit": 7}}),
        );
        assert_eq!(
            none,
            json!({"linux": {"resources": {"memory": {"limit": 7}}}})
        );
    }
}
