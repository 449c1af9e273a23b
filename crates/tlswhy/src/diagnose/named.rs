//! Closed sets of named values — the verdict codes, the warnings: one list gives the
//! enum, every value in order, the name used in JSON and on the command line, a title
//! for people, the name parsed back, and `Display` and `Serialize` as the name.

/// `named_values! { #[doc] pub enum Name, "what it is" { Variant => "name", "title", … } }`
macro_rules! named_values {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident, $what:literal {
            $($variant:ident => $name:literal, $title:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $ty { $($variant,)* }

        impl $ty {
            /// Every value, in the list's order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];

            /// The name, as in JSON output and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }

            /// A short title for people (report headings).
            pub fn title(self) -> &'static str {
                match self { $($ty::$variant => $title,)* }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<$ty, String> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    _ => Err(format!(concat!("unknown ", $what, " '{}'"), s)),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use named_values;
