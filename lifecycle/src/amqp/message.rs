//! [`Message`]: one delivered message, as a handler sees it.

use lapin::types::ShortString;
use lapin::BasicProperties;

/// One delivered message, as a handler sees it. The consumer keeps the
/// acknowledgement: returning `Ok` from the handler acknowledges it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// The payload.
    pub data: Vec<u8>,
    /// The properties: `message_id`, `content_type`, headers...
    pub properties: BasicProperties,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Whether the broker delivered it before (to this consumer or another)
    /// without an acknowledgement: its work may have been done already.
    pub redelivered: bool,
}

impl Message {
    /// A message with `data` and no properties, as if delivered for the
    /// first time: for testing handlers without a broker.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        Message {
            data: data.into(),
            properties: BasicProperties::default(),
            routing_key: String::new(),
            redelivered: false,
        }
    }

    /// The same message with `message_id` set to `id`.
    pub fn with_id(mut self, id: &str) -> Self {
        self.properties = self.properties.with_message_id(id.into());
        self
    }

    /// The publisher's `message_id`, if it set one: the natural
    /// idempotency key.
    pub fn id(&self) -> Option<&str> {
        self.properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// The payload as UTF-8 text.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_exposes_its_id_and_text() {
        let message = Message::new("42").with_id("order-42");
        assert_eq!(message.id(), Some("order-42"));
        assert_eq!(message.text(), Ok("42"));
        assert!(!message.redelivered);
        assert_eq!(Message::new(vec![0xff]).id(), None);
        assert!(Message::new(vec![0xff]).text().is_err());
    }
}
