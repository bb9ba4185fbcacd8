//! The service's domain types, below the database: statuses (of uploads, notices, findings),
//! kinds, channels, permissions and schedules as closed sets with their rules. `db/` stores
//! them; nothing here knows the database, the app or a caller (`tests/api/layers.rs` holds it so).
//! With `error` this is the bottom layer.

/// A closed set with a wire name per member: how the database stores it, the API shows it and a
/// query names it (`FromStr` refuses anything else, listing what is expected).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] #[schema(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> std::result::Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("`{s}`: expected {}", all.join(", "))
                })
            }
        }
    };
}

pub mod findings;
pub mod insights;
pub mod notices;
pub mod permissions;
pub mod previews;
pub mod schedule;
pub mod uploads;
