//! The `open_enum!` macro: protocol code points as open enums; and
//! `anomaly_enum!`: the anomaly names of a layer or protocol.
//!
//! An IDS must never treat an unknown code as a parse error: it is exactly the
//! thing an analyst wants to see. Every protocol code is therefore an enum with
//! named variants plus `Unknown(raw)`, with lossless conversions both ways, a
//! snake_case name for events and rules, and `Display` that prints the name or,
//! for unknown values, the number in hex.

/// Declares an open enum over an unsigned integer type.
///
/// ```
/// otwatch_proto::open_enum! {
///     /// Example codes.
///     pub enum Colour: u8 {
///         /// Red.
///         Red = 1 => "red",
///         /// Green.
///         Green = 2 => "green",
///     }
/// }
/// assert_eq!(Colour::from(2u8), Colour::Green);
/// assert_eq!(u8::from(Colour::Unknown(9)), 9);
/// assert_eq!(Colour::from_name("red"), Some(Colour::Red));
/// assert_eq!(Colour::Unknown(0x1f).to_string(), "0x1f");
/// ```
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $ty:ty {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $value:literal => $text:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version does not know, kept as it was on the wire.
            Unknown($ty),
        }

        impl $name {
            /// Every known value with its name, in declaration order.
            pub const KNOWN: &'static [($ty, &'static str)] = &[$(($value, $text)),+];

            /// The snake_case name, or `None` for an unknown value.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )+
                    $name::Unknown(_) => None,
                }
            }

            /// Whether the value is one this version knows.
            pub fn is_known(self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            /// Looks a value up by its snake_case name.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The raw value.
            pub fn raw(self) -> $ty {
                <$ty>::from(self)
            }
        }

        impl From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $crate::json::Code for $name {
            fn code(self) -> u64 {
                u64::from(<$ty>::from(self))
            }
            fn code_name(self) -> Option<&'static str> {
                self.name()
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(text) => f.write_str(text),
                    None => write!(f, "{:#x}", <$ty>::from(*self)),
                }
            }
        }
    };
}

/// Declares the anomaly names of a layer or protocol as an enum.
///
/// Every name is raised with the enum's layer (`in LAYER`, a path to a
/// `&str` constant), unless its line names another (`Name => "name" in
/// "ipv4"`): the decode layer raises a few names as `ipv4` or `ipv6`.
///
/// Dissectors raise anomalies through [`Context::raise`], which takes such an
/// enum, so a name cannot be emitted without being declared here; the
/// registry's [`Spec::anomalies`] (what rules may name) is the enum's `NAMES`.
/// The enum is `#[non_exhaustive]`: later versions add names, and code outside
/// this crate must not assume the list is closed.
///
/// [`Context::raise`]: crate::event::Context::raise
/// [`Spec::anomalies`]: crate::registry::Spec::anomalies
///
/// ```
/// const LAYER: &str = "example";
/// otwatch_proto::anomaly_enum! {
///     /// Example anomalies.
///     pub enum ExampleAnomaly in LAYER {
///         /// A bad thing.
///         BadThing => "bad_thing",
///         /// Too many things.
///         TooMany => "too_many",
///         /// Raised in another layer.
///         Other => "other" in "elsewhere",
///     }
/// }
/// use otwatch_proto::event::AnomalyKind;
/// assert_eq!(ExampleAnomaly::NAMES, ["bad_thing", "too_many", "other"]);
/// assert_eq!(ExampleAnomaly::ALL[1].name(), "too_many");
/// assert_eq!(ExampleAnomaly::from_name("bad_thing"), Some(ExampleAnomaly::BadThing));
/// assert_eq!(ExampleAnomaly::BadThing.layer(), "example");
/// // A name may belong to another layer than the enum's.
/// assert_eq!(ExampleAnomaly::Other.layer(), "elsewhere");
/// ```
#[macro_export]
macro_rules! anomaly_enum {
    (@layer $layer:path) => { $layer };
    (@layer $layer:path, $own:literal) => { $own };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident in $layer:path {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => $text:literal $(in $own:literal)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every anomaly, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            /// Every name, in declaration order (`ALL` by `name`).
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            /// The stable snake_case name (EVE `anomaly.event`; rules match
            /// on it).
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Looks an anomaly up by its name.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl $crate::event::AnomalyKind for $name {
            fn layer(self) -> &'static str {
                match self {
                    $( $name::$variant => $crate::anomaly_enum!(@layer $layer $(, $own)?), )+
                }
            }

            fn name(self) -> &'static str {
                $name::name(self)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
