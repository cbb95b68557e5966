//! Cap counters as records keep them: `[kind, period, count]` triples. Records
//! written before that kept a map of `"kind@day"` and `"kind@w<week>"` strings,
//! which JSON still reads.

use super::attention::Counters;
use crate::model::TouchKind;
use serde::de::{Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use std::fmt;

pub fn serialize<S: Serializer>(counters: &Counters, serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(counters.len()))?;
    for ((kind, period), count) in counters {
        seq.serialize_element(&(kind, period, count))?;
    }
    seq.end()
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Counters, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_any(CountersVisitor)
    } else {
        deserializer.deserialize_seq(CountersVisitor)
    }
}

struct CountersVisitor;

impl<'de> Visitor<'de> for CountersVisitor {
    type Value = Counters;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[kind, period, count] triples")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counters, A::Error> {
        let mut counters = Counters::new();
        while let Some((kind, period, count)) = seq.next_element::<(TouchKind, i64, u32)>()? {
            counters.insert((kind, period), count);
        }
        Ok(counters)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counters, A::Error> {
        let mut counters = Counters::new();
        while let Some((key, count)) = map.next_entry::<String, u32>()? {
            let parsed = key.rsplit_once('@').and_then(|(kind, period)| {
                let period = period.strip_prefix('w').unwrap_or(period);
                Some((TouchKind::parse(kind)?, period.parse::<i64>().ok()?))
            });
            let key = parsed.ok_or_else(|| A::Error::custom(format!("counter {key:?}")))?;
            counters.insert(key, count);
        }
        Ok(counters)
    }
}
