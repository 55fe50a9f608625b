//! CIP messages (volume 1, chapter 2 and appendix A): a request is a
//! service, a path and data; a reply the service with the reply bit, a
//! general status, extended status words and data. Two services carry
//! other requests: Multiple_Service_Packet (several, by offset) and the
//! Connection Manager's Unconnected_Send (one, with the route to its target).

use super::codes::{service_name, Class, GeneralStatus, REPLY_BIT};
use super::epath::Path;

/// A CIP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The service (reply bit clear).
    pub service: u8,
    /// The path it is sent to.
    pub path: Path<'a>,
    /// The service's data.
    pub data: &'a [u8],
}

/// A CIP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The service it answers (reply bit cleared).
    pub service: u8,
    /// The general status.
    pub status: GeneralStatus,
    /// Extended status: little-endian 16-bit words as on the wire.
    pub extended: &'a [u8],
    /// The reply data.
    pub data: &'a [u8],
}

impl Response<'_> {
    /// The first extended status word, the one that says why.
    pub fn extended_status(&self) -> Option<u16> {
        self.extended
            .get(..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
}

/// A CIP message, one way or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// From the originator.
    Request(Request<'a>),
    /// From the target.
    Response(Response<'a>),
}

/// Why a CIP message cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipError {
    /// Shorter than its header.
    Truncated,
    /// The path size runs past the message.
    PathOverrun,
    /// The extended status size runs past the message.
    StatusOverrun,
}

impl core::fmt::Display for CipError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CipError::Truncated => "CIP message is shorter than its header",
            CipError::PathOverrun => "CIP request path runs past the message",
            CipError::StatusOverrun => "CIP extended status runs past the message",
        })
    }
}

impl<'a> Message<'a> {
    /// Decodes `b`; the reply bit of the first byte says which way.
    pub fn parse(b: &'a [u8]) -> Result<Self, CipError> {
        let (&service, rest) = b.split_first().ok_or(CipError::Truncated)?;
        if service & REPLY_BIT == 0 {
            let (&words, rest) = rest.split_first().ok_or(CipError::Truncated)?;
            let len = usize::from(words) * 2;
            let raw = rest.get(..len).ok_or(CipError::PathOverrun)?;
            Ok(Message::Request(Request {
                service,
                path: Path::parse(raw),
                data: &rest[len..],
            }))
        } else {
            let h = rest.get(..3).ok_or(CipError::Truncated)?;
            let len = usize::from(h[2]) * 2;
            let extended = rest.get(3..3 + len).ok_or(CipError::StatusOverrun)?;
            Ok(Message::Response(Response {
                service: service & !REPLY_BIT,
                status: GeneralStatus::from(h[1]),
                extended,
                data: &rest[3 + len..],
            }))
        }
    }
}

impl Request<'_> {
    /// The service's name for the class the path names. A Logix tag
    /// request names its tag with symbols and no class: the symbol class's.
    pub fn service_name(&self) -> Option<&'static str> {
        let class = match (self.path.class, self.path.symbolic) {
            (None, true) => Some(Class::Symbol.raw()),
            (class, _) => class,
        };
        service_name(class, self.service)
    }
}

/// The requests or replies of a Multiple_Service_Packet (both have a count
/// and offsets from the count, then the messages).
#[derive(Debug, Clone)]
pub struct Embedded<'a> {
    body: &'a [u8],
    count: u16,
    next: u16,
}

/// Why embedded messages cannot be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedError {
    /// Shorter than the count and offsets.
    Truncated,
    /// An offset points outside the packet, or before the one before it.
    BadOffset {
        /// Index of the message.
        index: u16,
    },
}

impl<'a> Embedded<'a> {
    /// `body` is a Multiple_Service_Packet's request data or reply data.
    pub fn new(body: &'a [u8]) -> Result<Self, EmbeddedError> {
        let c = body.get(..2).ok_or(EmbeddedError::Truncated)?;
        let count = u16::from_le_bytes([c[0], c[1]]);
        if body.len() < 2 + 2 * usize::from(count) {
            return Err(EmbeddedError::Truncated);
        }
        Ok(Embedded {
            body,
            count,
            next: 0,
        })
    }

    /// How many messages the packet declares.
    pub fn count(&self) -> u16 {
        self.count
    }

    fn offset(&self, index: u16) -> usize {
        let i = 2 + 2 * usize::from(index);
        usize::from(u16::from_le_bytes([self.body[i], self.body[i + 1]]))
    }
}

impl<'a> Iterator for Embedded<'a> {
    type Item = Result<&'a [u8], EmbeddedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let start = self.offset(index);
        let end = if self.next < self.count {
            self.offset(self.next)
        } else {
            self.body.len()
        };
        let header = 2 + 2 * usize::from(self.count);
        if start < header || end < start || end > self.body.len() {
            self.next = self.count;
            return Some(Err(EmbeddedError::BadOffset { index }));
        }
        Some(Ok(&self.body[start..end]))
    }
}

/// An Unconnected_Send's data: the request for another device and the
/// route to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnconnectedSend<'a> {
    /// Priority and tick time.
    pub priority_tick: u8,
    /// Timeout in ticks.
    pub timeout_ticks: u8,
    /// The embedded request.
    pub request: &'a [u8],
    /// The route (port segments) to the device that executes it.
    pub route: Path<'a>,
}

impl<'a> UnconnectedSend<'a> {
    /// Decodes an Unconnected_Send request's data.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let h = data.get(..4)?;
        let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
        let request = data.get(4..4 + len)?;
        // The embedded request is padded to a whole word.
        let at = 4 + len + (len & 1);
        let tail = data.get(at..at + 2)?;
        let route = data.get(at + 2..at + 2 + usize::from(tail[0]) * 2)?;
        Some(UnconnectedSend {
            priority_tick: h[0],
            timeout_ticks: h[1],
            request,
            route: Path::parse(route),
        })
    }
}

impl core::fmt::Display for EmbeddedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            EmbeddedError::Truncated => f.write_str("embedded messages are truncated"),
            EmbeddedError::BadOffset { index } => {
                write!(f, "embedded message {index} has an offset outside its packet")
            }
        }
    }
}

/// The requests a request carries for others: each of a
/// Multiple_Service_Packet's, or an Unconnected_Send's one.
#[derive(Debug, Clone)]
pub enum Inner<'a> {
    /// A Multiple_Service_Packet's.
    Multiple(Embedded<'a>),
    /// An Unconnected_Send's (taken once).
    Single(Option<&'a [u8]>),
}

impl<'a> Iterator for Inner<'a> {
    type Item = Result<&'a [u8], EmbeddedError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Inner::Multiple(list) => list.next(),
            Inner::Single(one) => one.take().map(Ok),
        }
    }
}

/// Service code of Multiple_Service_Packet.
pub const MULTIPLE_SERVICE_PACKET: u8 = 0x0A;
/// Service code of the Connection Manager's Unconnected_Send.
pub const UNCONNECTED_SEND: u8 = 0x52;

impl<'a> Request<'a> {
    /// Whether this is the Connection Manager's Unconnected_Send (0x52 to
    /// other classes is another service: Logix Read_Tag_Fragmented).
    pub fn is_unconnected_send(&self) -> bool {
        self.service == UNCONNECTED_SEND && self.path.class == Some(Class::ConnectionManager.raw())
    }

    /// The route of an Unconnected_Send.
    pub fn route(&self) -> Option<Path<'a>> {
        self.is_unconnected_send()
            .then(|| UnconnectedSend::parse(self.data).map(|u| u.route))
            .flatten()
    }
}

/// The requests `r` embeds, if it is a request that embeds others.
pub fn embedded_requests<'a>(r: &Request<'a>) -> Option<Result<Inner<'a>, EmbeddedError>> {
    if r.service == MULTIPLE_SERVICE_PACKET {
        return Some(Embedded::new(r.data).map(Inner::Multiple));
    }
    if r.is_unconnected_send() {
        return Some(
            UnconnectedSend::parse(r.data)
                .map(|u| Inner::Single(Some(u.request)))
                .ok_or(EmbeddedError::Truncated),
        );
    }
    None
}

/// The replies a Multiple_Service_Packet reply embeds (when it carries
/// them: success, or an error in one of them).
pub fn embedded_replies<'a>(r: &Response<'a>) -> Option<Result<Embedded<'a>, EmbeddedError>> {
    let carries = matches!(
        r.status,
        GeneralStatus::Success | GeneralStatus::EmbeddedServiceError
    );
    (r.service == MULTIPLE_SERVICE_PACKET && carries).then(|| Embedded::new(r.data))
}

/// Calls `f` with `r` and the requests it embeds (to [`super::MAX_DEPTH`]),
/// outermost first, until `f` returns true.
pub fn any_request<'a>(
    r: &Request<'a>,
    depth: u8,
    f: &mut dyn FnMut(&Request<'a>) -> bool,
) -> bool {
    if f(r) {
        return true;
    }
    if depth >= super::MAX_DEPTH {
        return false;
    }
    let Some(Ok(inner)) = embedded_requests(r) else {
        return false;
    };
    inner.map_while(Result::ok).any(|b| match Message::parse(b) {
        Ok(Message::Request(inner)) => any_request(&inner, depth + 1, f),
        _ => false,
    })
}

/// Calls `f` with `r` and the replies it embeds, until `f` returns true.
pub fn any_response<'a>(
    r: &Response<'a>,
    depth: u8,
    f: &mut dyn FnMut(&Response<'a>) -> bool,
) -> bool {
    if f(r) {
        return true;
    }
    if depth >= super::MAX_DEPTH {
        return false;
    }
    let Some(Ok(inner)) = embedded_replies(r) else {
        return false;
    };
    inner.map_while(Result::ok).any(|b| match Message::parse(b) {
        Ok(Message::Response(inner)) => any_response(&inner, depth + 1, f),
        _ => false,
    })
}
