//! The [`events!`](crate::events) macro.

/// Declares event classes and their events, once: each event gets a
/// logging function and a metadata entry.
///
/// ```
/// use ktrace::{Class, Layer};
///
/// ktrace::events! {
///     /// Events of my server.
///     pub mod myserver(class = Class(40), layer = Layer::SERVER) {
///         /// A request arrived.
///         0 => fn request(client: u64, op: u32, path: &str) = "client {client} op {op} on {path}";
///         /// A request completed.
///         1 => fn reply(client: u64, status: i32) = "client {client} -> {status}";
///     }
/// }
///
/// fn main() {
///     // Each generated module has its class, layer and metadata...
///     assert_eq!(myserver::CLASS, Class(40));
///     assert_eq!(myserver::EVENTS.len(), 2);
///     assert_eq!(myserver::EVENTS[0].name, "request");
///     // ...and one logging function per event.
///     let tracer = ktrace::host::tracer::<2, 512>(1, ktrace::Overflow::Wrap);
///     tracer.enable(myserver::CLASS);
///     myserver::request(tracer, 7, 1, "/etc/passwd");
/// }
/// ```
///
/// The module sees the names in scope where `events!` is invoked (it
/// imports `super::*`), so invoke it at module level.
///
/// Mistakes are compile errors: a print format naming a field the event
/// does not have,
///
/// ```compile_fail,E0080
/// ktrace::events! {
///     pub mod bad(class = ktrace::Class(40), layer = ktrace::Layer::SERVER) {
///         0 => fn oops(a: u64) = "{b}";
///     }
/// }
/// # fn main() { let t = ktrace::host::tracer::<2, 512>(1, ktrace::Overflow::Wrap); bad::oops(t, 1); }
/// ```
///
/// a minor id above 16383, or more than 7 fields.
///
/// Each logging function takes the [`Tracer`](crate::Tracer) first, checks
/// the class bit, computes the length and logs. Field types are those with
/// a [`Field`](crate::Field) impl: integers, `bool` and `&str`. The print
/// format names fields in braces, `{name}` or `{name:x}` for hex.
#[macro_export]
macro_rules! events {
    ($(
        $(#[$mattr:meta])*
        $vis:vis mod $module:ident (class = $class:expr, layer = $layer:expr $(,)?) {
            $(
                $(#[$eattr:meta])*
                $minor:literal => fn $name:ident ( $( $field:ident : $ty:ty ),* $(,)? ) = $format:literal ;
            )*
        }
    )*) => {$(
        $(#[$mattr])*
        $vis mod $module {
            #[allow(unused_imports)]
            use super::*;

            /// This module's event class.
            pub const CLASS: $crate::Class = $class;
            /// The layer its events are logged from.
            pub const LAYER: $crate::Layer = $layer;

            $(
                $(#[$eattr])*
                #[inline]
                #[allow(clippy::too_many_arguments)]
                pub fn $name<P: $crate::Platform, const BLOCKS: usize, const BLOCK_WORDS: usize>(
                    tracer: &$crate::Tracer<'_, P, BLOCKS, BLOCK_WORDS> $(, $field: $ty)*
                ) {
                    const _: () = {
                        assert!(($minor as u32) <= $crate::header::MAX_MINOR as u32, "minor id above 16383");
                        let n: usize = 0 $(+ { let _ = stringify!($field); 1 })*;
                        assert!(n <= $crate::field::MAX_FIELDS, "more than 7 fields");
                        assert!(
                            $crate::meta::format_ok($format, &[$(stringify!($field)),*]),
                            concat!("the print format of `", stringify!($name), "` names a field it does not have, or leaves a `{{` open")
                        );
                    };
                    if !tracer.is_enabled(CLASS) {
                        return;
                    }
                    let len = 1 $(+ $crate::Field::words(&$field))*;
                    let _ = tracer.log(LAYER, CLASS, $minor, len, move |_w| {
                        $($crate::Field::write(&$field, _w);)*
                    });
                }
            )*

            /// Metadata of every event in this class.
            pub static EVENTS: &[$crate::EventDesc] = &[$(
                $crate::EventDesc {
                    class: CLASS,
                    class_name: stringify!($module),
                    layer: LAYER,
                    minor: $minor,
                    name: stringify!($name),
                    fields: &[$($crate::FieldDesc {
                        name: stringify!($field),
                        kind: <$ty as $crate::Field>::KIND,
                    }),*],
                    format: $format,
                }
            ),*];
        }
    )*};
}
