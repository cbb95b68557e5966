//! What a CRM module provides, and the settings of one sink: the CRM's own keys and the
//! shared delivery keys, read from the one flat `[sinks.<name>]` table.
//!
//! The table is split by key: the delivery keys go to [`Delivery`] (with the CRM's
//! defaults), the rest to the CRM's own struct, which refuses what it does not know.
//! An unknown key is refused naming it and every key the sink takes.

use super::delivery::{Defaults, Delivery, DeliveryKeys};
use super::{Outcome, Setup, SinkError};
use crate::fields::{resolve_names, FieldNames, FieldSpec, Recipient, Records};
use crate::model::Identity;
use crate::store::OutboxEntry;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::future::Future;

/// A CRM's own settings, and what only it knows without asking it. The settings are a
/// derived struct of named keys with `deny_unknown_fields` (no `flatten`): its keys are
/// read off serde's own list.
pub trait Crm: DeserializeOwned + Clone + fmt::Debug + Send + Sync {
    /// Whether the CRM holds accounts, which makes `account_fields` one of its keys.
    const ACCOUNTS: bool;

    /// Its defaults and limits for the delivery settings.
    fn defaults(&self) -> Defaults;

    /// The CRM's name for a field the settings do not map.
    fn default_name(spec: &FieldSpec) -> String;

    /// Checks of the CRM's own settings; the error names the key.
    fn validate(&self) -> Result<(), (String, String)>;

    /// Can this contact be written at all (does the CRM know an id or email)?
    fn addressable(&self, identities: &[Identity]) -> bool;

    /// Does this CRM hold the account with this key (`hubspot-company:<id>`)?
    fn account_addressable(&self, _account: &str) -> bool {
        false
    }
}

/// Writing to a CRM, which needs both halves of the settings: implemented for
/// `Sink<TheCrm>`.
pub trait Deliver {
    /// Writes one batch; all entries are of the kind `records`.
    fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> impl Future<Output = Outcome> + Send;

    /// Creates the fields the sink writes, unless they exist; says what it did.
    fn setup(
        &self,
        client: &reqwest::Client,
        setup: &mut Setup,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// `[sinks.<name>]`: the CRM's own settings and the delivery ones.
#[derive(Debug, Clone)]
pub struct Sink<C> {
    pub crm: C,
    pub delivery: Delivery,
}

impl<C: Crm> Sink<C> {
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.crm.validate()?;
        self.delivery
            .validate(&self.crm.defaults(), C::default_name)
    }

    /// The CRM's field names for `records`: its defaults, replaced by what is configured.
    pub fn names(&self, records: Records) -> FieldNames {
        // validate() has refused unknown names, so this cannot fail here.
        resolve_names(records, C::default_name, self.delivery.configured(records))
            .unwrap_or_default()
    }
}

impl<C: Crm> Recipient for Sink<C> {
    fn addressable(&self, identities: &[Identity]) -> bool {
        self.crm.addressable(identities)
    }

    fn account_addressable(&self, account: &str) -> bool {
        self.crm.account_addressable(account)
    }
}

/// What the push loop and the config ask of a sink, whichever its CRM.
pub trait Settings: Recipient {
    fn validate(&self) -> Result<(), (String, String)>;
    fn delivery(&self) -> &Delivery;
    fn names(&self, records: Records) -> FieldNames;
}

impl<C: Crm> Settings for Sink<C> {
    fn validate(&self) -> Result<(), (String, String)> {
        Sink::validate(self)
    }

    fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    fn names(&self, records: Records) -> FieldNames {
        Sink::names(self, records)
    }
}

impl<'de, C: Crm> Deserialize<'de> for Sink<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let table = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let own_keys = keys_of::<C>();
        let delivery_keys: Vec<&str> = keys_of::<DeliveryKeys>()
            .iter()
            .copied()
            .filter(|key| C::ACCOUNTS || *key != "account_fields")
            .collect();
        let mut own = serde_json::Map::new();
        let mut delivery = serde_json::Map::new();
        for (key, value) in table {
            if own_keys.contains(&key.as_str()) {
                own.insert(key, value);
            } else if delivery_keys.contains(&key.as_str()) {
                delivery.insert(key, value);
            } else {
                let expected: Vec<String> = own_keys
                    .iter()
                    .chain(&delivery_keys)
                    .map(|key| format!("`{key}`"))
                    .collect();
                return Err(de::Error::custom(format_args!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                )));
            }
        }
        let crm = C::deserialize(serde_json::Value::Object(own)).map_err(de::Error::custom)?;
        let keys = DeliveryKeys::deserialize(serde_json::Value::Object(delivery))
            .map_err(de::Error::custom)?;
        let delivery = keys.with_defaults(&crm.defaults());
        Ok(Sink { crm, delivery })
    }
}

/// The keys a derived struct reads: serde hands them to `deserialize_struct`, which is
/// all this deserializer answers.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Keys<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Keys<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("keys read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(Keys(&mut keys));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_of_a_struct_are_those_serde_reads() {
        let keys = keys_of::<DeliveryKeys>();
        assert!(keys.contains(&"batch_size") && keys.contains(&"account_fields"));
        assert_eq!(keys.len(), 8);
    }
}
