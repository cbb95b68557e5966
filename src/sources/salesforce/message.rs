//! Reading the SOAP `notifications` message: local names only, so any prefix works.

use crate::sources::delivery::SourceError;
use quick_xml::events::{BytesStart, Event as XmlEvent};
use quick_xml::Reader;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct Message {
    pub(super) organization_id: Option<String>,
    pub(super) notifications: Vec<Notification>,
}

#[derive(Debug, Default)]
pub(super) struct Notification {
    pub(super) id: Option<String>,
    pub(super) object: Option<SObject>,
}

#[derive(Debug, Default)]
pub(super) struct SObject {
    /// `xsi:type` without its prefix: `Lead`, `Contact`, …
    pub(super) kind: String,
    /// Field local name → text. Fields sent as `xsi:nil="true"` are absent.
    pub(super) fields: BTreeMap<String, String>,
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// The value of the attribute with local name `name` (any prefix).
fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, SourceError> {
    for attribute in element.attributes() {
        let attribute = attribute
            .map_err(|error| SourceError::malformed(format!("not well-formed XML: {error}")))?;
        if attribute.key.local_name().as_ref() == name {
            let value = attribute
                .unescape_value()
                .map_err(|error| SourceError::malformed(format!("not well-formed XML: {error}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// Reads the SOAP envelope. Paths are `Envelope/Body/notifications/...` by local name.
pub(super) fn parse(body: &[u8]) -> Result<Message, SourceError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| SourceError::malformed("the body is not UTF-8 XML"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let bad =
        |error: quick_xml::Error| SourceError::malformed(format!("not well-formed XML: {error}"));

    let mut message = Message::default();
    let mut seen_notifications = false;
    let mut stack: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut nil = false;
    loop {
        let event = reader.read_event().map_err(bad)?;
        let (start, empty) = match &event {
            XmlEvent::Start(element) => (Some(element), false),
            XmlEvent::Empty(element) => (Some(element), true),
            _ => (None, false),
        };
        if let Some(element) = start {
            let name = local(element.local_name().as_ref());
            let depth = stack.len();
            if depth == 0 && name != "Envelope" {
                return Err(SourceError::malformed(format!(
                    "expected a SOAP Envelope, found <{name}>"
                )));
            }
            let path: Vec<&str> = stack.iter().map(String::as_str).collect();
            match (path.as_slice(), name.as_str()) {
                (["Envelope", "Body"], "notifications") => seen_notifications = true,
                (["Envelope", "Body", "notifications"], "Notification") => {
                    message.notifications.push(Notification::default())
                }
                (["Envelope", "Body", "notifications", "Notification"], "sObject") => {
                    let kind = attribute(element, b"type")?.unwrap_or_default();
                    let kind = kind.rsplit(':').next().unwrap_or("").trim().to_string();
                    if kind.is_empty() {
                        return Err(SourceError::malformed("an sObject has no xsi:type"));
                    }
                    if let Some(notification) = message.notifications.last_mut() {
                        notification.object = Some(SObject {
                            kind,
                            fields: BTreeMap::new(),
                        });
                    }
                }
                _ => {}
            }
            nil = attribute(element, b"nil")?.is_some_and(|value| value.trim() == "true");
            text_buf.clear();
            stack.push(name);
            if !empty {
                continue;
            }
        }
        match event {
            XmlEvent::Start(_) => {}
            XmlEvent::Text(text) => {
                let text = text.unescape().map_err(bad)?;
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(SourceError::malformed(
                        "expected a SOAP Envelope, found text",
                    ));
                }
                text_buf.push_str(&text);
            }
            XmlEvent::CData(data) => {
                text_buf.push_str(&String::from_utf8_lossy(&data.into_inner()));
            }
            XmlEvent::End(_) | XmlEvent::Empty(_) => {
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["Envelope", "Body", "notifications", "OrganizationId"] => {
                        message.organization_id = Some(text_buf.trim().to_string());
                    }
                    ["Envelope", "Body", "notifications", "Notification", "Id"] => {
                        if let Some(notification) = message.notifications.last_mut() {
                            notification.id = Some(text_buf.trim().to_string());
                        }
                    }
                    ["Envelope", "Body", "notifications", "Notification", "sObject", field] => {
                        if let Some(object) = message
                            .notifications
                            .last_mut()
                            .and_then(|notification| notification.object.as_mut())
                        {
                            if !nil {
                                object.fields.insert(field.to_string(), text_buf.clone());
                            }
                        }
                    }
                    _ => {}
                }
                text_buf.clear();
                nil = false;
                stack.pop();
            }
            XmlEvent::DocType(_) => {
                return Err(SourceError::malformed(
                    "a DOCTYPE is not allowed in an outbound message",
                ))
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(SourceError::malformed(format!(
            "not well-formed XML: <{}> is never closed",
            stack.last().map(String::as_str).unwrap_or("")
        )));
    }
    if !seen_notifications {
        return Err(SourceError::malformed(
            "the SOAP Body holds no outbound-message notifications element",
        ));
    }
    Ok(message)
}
