//! Step 3: generate the impls. Every path is absolute, through
//! `::lifecycle::__private`, so the user's own `Result`, `Option` or `Box`
//! cannot change what the generated code means.

use crate::validate::Component;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub fn component(c: Component<'_>) -> TokenStream {
    let ident = c.ident;
    let name = ident.to_string();
    let p = quote!(::lifecycle::__private);

    // Each dependency's depth is read with the span of the user's token, so a
    // dependency that is not a component, or a cycle, is reported right there.
    let depths = c
        .depends_on
        .iter()
        .map(|dep| quote_spanned!(dep.span()=> <#dep as #p::Component>::DEPTH));
    let dependencies = c
        .depends_on
        .iter()
        .map(|dep| quote_spanned!(dep.span()=> #p::Dependency::of::<#dep>()));
    let evidence = c
        .depends_on
        .iter()
        .map(|dep| quote_spanned!(dep.span()=> impl #p::DependsOn<#dep> for #ident {}));
    let [start, stop_intake, drain, teardown] = c.timeouts.map(|ms| match ms {
        Some(ms) => quote!(#p::Some(#p::Duration::from_millis(#ms))),
        None => quote!(#p::None),
    });

    let component_impl = quote_spanned! {ident.span()=>
        impl #p::Component for #ident {
            const NAME: &'static str = #name;
            const DEPTH: usize = { let depth = 0; #(let depth = #p::deeper(depth, #depths);)* depth };
            const DEPENDENCIES: &'static [#p::Dependency] = &[#(#dependencies),*];
            const TIMEOUTS: #p::Timeouts = #p::Timeouts {
                start: #start,
                stop_intake: #stop_intake,
                drain: #drain,
                teardown: #teardown,
            };
        }
    };

    quote! {
        #component_impl
        #(#evidence)*
        // Evaluating the depth here makes a dependency cycle a compile error.
        const _: usize = <#ident as #p::Component>::DEPTH;
        #p::inventory::submit! { #p::Registration::of::<#ident>() }
    }
}
