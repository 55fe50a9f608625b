//! The protocols the sensors decode, as `otwatch-proto`'s registry lists
//! them: which decoded objects an alert line may carry, and the list the UI
//! reads from `GET /api/v1/protocols` (names, titles, colours, the fields an
//! alert's summary shows).

use otwatch_proto::registry::ProtocolId;
use serde_json::{json, Value};

use crate::assets::ASSET_CHANGE;

/// The decoded objects an alert line may carry, in a fixed order: every
/// protocol's EVE objects in registry order, then the analyzer's own
/// `asset_change`.
pub(crate) fn transaction_objects() -> impl Iterator<Item = &'static str> {
    ProtocolId::ALL
        .into_iter()
        .flat_map(|p| p.spec().eve_objects.iter().copied())
        .chain([ASSET_CHANGE])
}

/// The body of `GET /api/v1/protocols`: `{"protocols":[{"name", "title",
/// "color", "eve_objects", "fields"}…]}` in registry order.
pub(crate) fn list() -> Value {
    let protocols: Vec<Value> = ProtocolId::ALL
        .into_iter()
        .map(|p| {
            let spec = p.spec();
            json!({
                "name": spec.name,
                "title": spec.title,
                "color": spec.color,
                "eve_objects": spec.eve_objects,
                "fields": spec.summary_fields,
            })
        })
        .collect();
    json!({ "protocols": protocols })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_eve_object_once_then_asset_change() {
        let objects: Vec<&str> = transaction_objects().collect();
        for p in ProtocolId::ALL {
            for o in p.spec().eve_objects {
                assert_eq!(objects.iter().filter(|x| *x == o).count(), 1, "{o}");
            }
        }
        assert_eq!(objects.last(), Some(&ASSET_CHANGE));
        // S7comm-plus events are decoded under the s7comm protocol.
        assert!(objects.contains(&"s7commplus"));
    }
}
