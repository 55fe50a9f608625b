//! Conditions: what a `match` entry compiles to, and how it is tested
//! against the values of a field.
//!
//! A field yields zero or more values (a Modbus write of ten registers
//! yields ten `value`s). A leaf test (`eq`, `in`, `range`, `mask`, …) holds
//! when **any** value passes it; `not` negates the whole test (no value
//! passes); several operators in one mapping must all hold.

use std::net::IpAddr;

/// A value read from an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    /// A number or code.
    Int(u64),
    /// A closed range of numbers (Modbus addresses touched by one PDU).
    Span(u64, u64),
    /// Bytes (PI service names, file names).
    Bytes(&'a [u8]),
    /// A flag.
    Bool(bool),
    /// An address.
    Ip(IpAddr),
    /// A content buffer: 0 = request, 1 = response.
    Buf(usize),
    /// An anomaly name.
    Name(&'a str),
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net {
    addr: u128,
    mask: u128,
    v6: bool,
}

impl Net {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `fe80::/10`.
    pub(crate) fn parse(text: &str) -> Option<Net> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let ip: IpAddr = ip.trim().parse().ok()?;
        let (addr, bits, v6) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32u8, false),
            IpAddr::V6(a) => (u128::from(a), 128u8, true),
        };
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return None;
        }
        let mask = if prefix == 0 {
            0
        } else {
            (u128::MAX << (128 - u32::from(prefix))) >> (128 - u32::from(bits))
        };
        Some(Net {
            addr: addr & mask,
            mask,
            v6,
        })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (addr, v6) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), false),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if !self.v6 => (u128::from(u32::from(v4)), false),
                _ => (u128::from(a), true),
            },
        };
        v6 == self.v6 && addr & self.mask == self.addr
    }
}

/// One elementary test of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// Equal.
    Eq(u64),
    /// Within `lo..=hi`.
    Range(u64, u64),
    /// `value & mask == want`.
    Mask { mask: u64, want: u64 },
    /// `value & mask != 0`.
    AnyBits(u64),
    /// A boolean.
    Bool(bool),
    /// An address in a network.
    Net(Net),
    /// Bytes equal.
    Text(Box<[u8]>),
    /// Bytes contain.
    Contains(Box<[u8]>),
    /// A content pattern (id in the protocol's automaton) was found.
    Pattern(u32),
    /// An anomaly name.
    Name(&'static str),
}

/// Which content patterns were found in the request (0) and response (1).
pub(crate) trait PatternHits {
    /// Whether pattern `id` occurs in buffer `buf`.
    fn hit(&self, buf: usize, id: u32) -> bool;
}

impl Leaf {
    pub(crate) fn test(&self, v: Val<'_>, hits: &dyn PatternHits) -> bool {
        match (self, v) {
            (Leaf::Eq(x), Val::Int(n)) => n == *x,
            (Leaf::Eq(x), Val::Span(lo, hi)) => lo <= *x && *x <= hi,
            (Leaf::Range(a, b), Val::Int(n)) => *a <= n && n <= *b,
            (Leaf::Range(a, b), Val::Span(lo, hi)) => lo <= *b && *a <= hi,
            (Leaf::Mask { mask, want }, Val::Int(n)) => n & mask == *want,
            (Leaf::Mask { mask, want }, Val::Span(lo, hi)) => {
                // Addresses touched: a span of at most 65 536 values.
                (lo..=hi).any(|n| n & mask == *want)
            }
            (Leaf::AnyBits(m), Val::Int(n)) => n & m != 0,
            (Leaf::AnyBits(m), Val::Span(lo, hi)) => (lo..=hi).any(|n| n & m != 0),
            (Leaf::Bool(b), Val::Bool(x)) => *b == x,
            (Leaf::Net(net), Val::Ip(ip)) => net.contains(ip),
            (Leaf::Text(t), Val::Bytes(b)) => **t == *b,
            (Leaf::Contains(t), Val::Bytes(b)) => contains(b, t),
            (Leaf::Pattern(id), Val::Buf(buf)) => hits.hit(buf, *id),
            (Leaf::Name(n), Val::Name(x)) => *n == x,
            _ => false,
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Walks the values of a field: calls its argument with each value until it
/// returns true, and returns whether one did.
pub(crate) type Each<'e> = dyn FnMut(&mut dyn FnMut(Val<'_>) -> bool) -> bool + 'e;

/// A compiled condition on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    /// Some value passes any of the leaves (one leaf: plain equality or
    /// an operator).
    Any(Vec<Leaf>),
    /// Every condition holds.
    All(Vec<Cond>),
    /// The condition does not hold.
    Not(Box<Cond>),
    /// The field has at least one value.
    Exists,
    /// Never holds (an allow-list that was left empty).
    Never,
}

impl Cond {
    /// Tests the condition; `each` calls its argument with every value of
    /// the field until it returns true, and returns whether one did.
    pub(crate) fn eval(&self, each: &mut Each<'_>, hits: &dyn PatternHits) -> bool {
        match self {
            Cond::Any(leaves) => each(&mut |v| leaves.iter().any(|l| l.test(v, hits))),
            Cond::All(conds) => conds.iter().all(|c| c.eval(each, hits)),
            Cond::Not(c) => !c.eval(each, hits),
            Cond::Exists => each(&mut |_| true),
            Cond::Never => false,
        }
    }

    /// The codes this condition requires, when it is a plain positive
    /// equality or list (used to index rules by function).
    pub(crate) fn positive_codes(&self) -> Option<Vec<u64>> {
        match self {
            Cond::Any(leaves) => leaves
                .iter()
                .map(|l| match l {
                    Leaf::Eq(v) => Some(*v),
                    _ => None,
                })
                .collect(),
            Cond::All(conds) => conds.iter().find_map(Cond::positive_codes),
            _ => None,
        }
    }

    /// Anomaly names this condition requires, when positive.
    pub(crate) fn positive_names(&self) -> Option<Vec<&'static str>> {
        match self {
            Cond::Any(leaves) => leaves
                .iter()
                .map(|l| match l {
                    Leaf::Name(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            Cond::All(conds) => conds.iter().find_map(Cond::positive_names),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHits;
    impl PatternHits for NoHits {
        fn hit(&self, _: usize, _: u32) -> bool {
            false
        }
    }

    fn eval(c: &Cond, values: &[Val<'_>]) -> bool {
        c.eval(&mut |f| values.iter().any(|v| f(*v)), &NoHits)
    }

    #[test]
    fn parses_networks_and_matches_addresses() {
        let net = Net::parse("10.200.7.0/24").expect("net");
        assert!(net.contains("10.200.7.30".parse().expect("ip")));
        assert!(!net.contains("10.200.8.1".parse().expect("ip")));
        assert!(!net.contains("::1".parse().expect("ip")));
        let host = Net::parse("10.200.7.20").expect("host");
        assert!(host.contains("10.200.7.20".parse().expect("ip")));
        assert!(!host.contains("10.200.7.21".parse().expect("ip")));
        assert!(Net::parse("0.0.0.0/0")
            .expect("any")
            .contains("1.2.3.4".parse().expect("ip")));
        assert!(Net::parse("fe80::/10")
            .expect("v6")
            .contains("fe80::1".parse().expect("ip")));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("10.0.0").is_none());
    }

    #[test]
    fn equality_and_lists_match_any_value() {
        let c = Cond::Any(vec![Leaf::Eq(5), Leaf::Eq(6)]);
        assert!(eval(&c, &[Val::Int(1), Val::Int(6)]));
        assert!(!eval(&c, &[Val::Int(1), Val::Int(7)]));
        assert!(!eval(&c, &[]));
    }

    #[test]
    fn ranges_and_comparisons_overlap_spans() {
        let c = Cond::Any(vec![Leaf::Range(100, 200)]);
        assert!(eval(&c, &[Val::Int(100)]));
        assert!(eval(&c, &[Val::Int(200)]));
        assert!(!eval(&c, &[Val::Int(201)]));
        assert!(eval(&c, &[Val::Span(50, 100)]));
        assert!(eval(&c, &[Val::Span(150, 160)]));
        assert!(!eval(&c, &[Val::Span(0, 99)]));
        assert!(eval(&Cond::Any(vec![Leaf::Eq(10)]), &[Val::Span(8, 12)]));
    }

    #[test]
    fn negation_means_no_value_passes() {
        let c = Cond::Not(Box::new(Cond::Any(vec![Leaf::Eq(3)])));
        assert!(eval(&c, &[Val::Int(4)]));
        assert!(!eval(&c, &[Val::Int(4), Val::Int(3)]));
        assert!(eval(&c, &[]));
    }

    #[test]
    fn masks_test_bits() {
        let all = Cond::Any(vec![Leaf::Mask {
            mask: 0x81,
            want: 0x81,
        }]);
        assert!(eval(&all, &[Val::Int(0x83)]));
        assert!(!eval(&all, &[Val::Int(0x80)]));
        let any = Cond::Any(vec![Leaf::AnyBits(0x300)]);
        assert!(eval(&any, &[Val::Int(0x100)]));
        assert!(!eval(&any, &[Val::Int(0x80)]));
        let value = Cond::Any(vec![Leaf::Mask {
            mask: 0xf0,
            want: 0x10,
        }]);
        assert!(eval(&value, &[Val::Int(0x1f)]));
        assert!(!eval(&value, &[Val::Int(0x2f)]));
    }

    #[test]
    fn all_exists_never_and_text() {
        let c = Cond::All(vec![Cond::Exists, Cond::Any(vec![Leaf::Range(0, 9)])]);
        assert!(eval(&c, &[Val::Int(3)]));
        assert!(!eval(&c, &[]));
        assert!(!eval(&Cond::Never, &[Val::Int(3)]));
        let t = Cond::Any(vec![Leaf::Text(b"P_PROGRAM".to_vec().into())]);
        assert!(eval(&t, &[Val::Bytes(b"P_PROGRAM")]));
        assert!(!eval(&t, &[Val::Bytes(b"P_PROGRAMX")]));
        let s = Cond::Any(vec![Leaf::Contains(b"PROG".to_vec().into())]);
        assert!(eval(&s, &[Val::Bytes(b"P_PROGRAM")]));
        let b = Cond::Any(vec![Leaf::Bool(true)]);
        assert!(eval(&b, &[Val::Bool(true)]));
        assert!(!eval(&b, &[Val::Bool(false)]));
        let n = Cond::Any(vec![Leaf::Net(Net::parse("10.0.0.0/8").expect("net"))]);
        assert!(eval(&n, &[Val::Ip("10.1.2.3".parse().expect("ip"))]));
    }

    #[test]
    fn finds_index_codes_of_positive_conditions() {
        assert_eq!(
            Cond::Any(vec![Leaf::Eq(8), Leaf::Eq(17)]).positive_codes(),
            Some(vec![8, 17])
        );
        assert_eq!(Cond::Any(vec![Leaf::Range(1, 4)]).positive_codes(), None);
        assert_eq!(
            Cond::Not(Box::new(Cond::Any(vec![Leaf::Eq(8)]))).positive_codes(),
            None
        );
    }
}
