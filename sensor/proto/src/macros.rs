//! The `open_enum!` macro: protocol code points as open enums.
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
