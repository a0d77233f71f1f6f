//! Collects every mistake in one derive, so they are all reported at once.

use proc_macro2::TokenStream;

/// The mistakes found so far, each a `syn::Error` at the user's token.
#[derive(Default)]
pub struct Errors {
    all: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.all {
            Some(all) => all.combine(error),
            None => self.all = Some(error),
        }
    }

    /// One `compile_error!` per mistake; nothing when there was none.
    pub fn into_compile_errors(self) -> TokenStream {
        self.all
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }
}
