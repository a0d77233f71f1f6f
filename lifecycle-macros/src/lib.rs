//! `#[derive(Component)]` for the [`lifecycle`](https://docs.rs/lifecycle) crate.
//!
//! The derive works in three steps, each in its own module:
//! `parse` reads the `#[component(...)]` attribute into plain data,
//! `validate` checks it and `expand` generates the impls. Every mistake
//! is collected in `errors` and reported at once, each at the user's token;
//! whatever was right is still expanded, so a mistake is reported once, where
//! it is, and not again as "not a component" at every dependent. Nothing here
//! panics.

mod errors;
mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// Declares a type as a component of a `lifecycle` application.
///
/// See the `lifecycle` crate for the attribute keys and what they mean.
#[proc_macro_derive(Component, attributes(component))]
pub fn derive_component(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    let mut errors = errors::Errors::default();
    let parsed = parse::component(&input, &mut errors);
    let mut out = validate::component(parsed, &mut errors)
        .map(expand::component)
        .unwrap_or_default();
    out.extend(errors.into_compile_errors());
    out.into()
}
