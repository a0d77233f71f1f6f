//! `#[derive(Component)]` for the [`lifecycle`](https://docs.rs/lifecycle) crate.
//!
//! The derive works in three steps, each in its own module:
//! [`parse`] reads the `#[component(...)]` attribute into plain data,
//! [`validate`] checks it (collecting every mistake, each spanned at the user's
//! token) and [`expand`] generates the impls. Nothing here panics: every problem
//! becomes a `compile_error!` at the offending token.

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
    parse::component(&input)
        .and_then(validate::component)
        .map(expand::component)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
