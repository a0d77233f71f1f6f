//! Step 3: generate the impls. Every path is absolute, through
//! `::lifecycle::__private`, so the user's own `Result`, `Option` or `Box`
//! cannot change what the generated code means.

use crate::validate::{Component, Restart};
use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use std::time::Duration;
use syn::spanned::Spanned;

pub fn component(c: Component<'_>) -> TokenStream {
    let ident = c.ident;
    let name = ident.to_string();
    let p = quote!(::lifecycle::__private);
    let deps = &c.depends_on;

    // The only items that name a dependency as a component, spanned at the
    // user's token: a dependency that is not a component is reported there,
    // once.
    let edges = deps.iter().map(|dep| {
        quote_spanned! {dep.span()=>
            impl #p::DependsOn<#dep> for #ident {
                const NODE: #p::Link = <#dep as #p::ComponentGraph>::NODE;
                const DEPTH: usize = <#dep as #p::ComponentGraph>::DEPTH;
            }
        }
    });
    // A cycle is reported at the entry it goes through (at the type's name
    // in a path like `crate::db::Database`): the panic's span is where rustc
    // points.
    let cycle_arms = deps.iter().enumerate().map(|(i, dep)| {
        let at = dep.segments.last().map_or(dep.span(), |s| s.ident.span());
        let p = quote_spanned!(at=> ::lifecycle::__private);
        quote_spanned!(at=> #p::Some(#i) => #p::panic!("{}", #p::cycle_message(&NODE).as_str()),)
    });
    let timeouts = c.timeouts.map(|deadline| option(deadline.map(duration)));
    let [start, stop_intake, drain, teardown] = &timeouts;
    let restart = c.restart.map(|policy| {
        let policy = match policy {
            Restart::Never => quote!(#p::Restart::never()),
            Restart::OnFailure {
                backoff,
                jitter,
                intensity,
                not_ready_for,
            } => {
                let backoff = option(backoff.map(|(first, longest)| {
                    let (first, longest) = (duration(first), duration(longest));
                    quote!((#first, #longest))
                }));
                let jitter = option(jitter.map(|f| Literal::f64_suffixed(f).into_token_stream()));
                let intensity = option(intensity.map(|(restarts, window)| {
                    let window = duration(window);
                    quote!((#restarts, #window))
                }));
                let not_ready_for = option(not_ready_for.map(duration));
                quote!(#p::Restart::from_attribute(#backoff, #jitter, #intensity, #not_ready_for))
            }
        };
        quote!(const RESTART: #p::Restart = #policy;)
    });
    let telemetry = c.telemetry.then(|| {
        quote!(
            const TELEMETRY: bool = true;
        )
    });

    let component_impl = quote_spanned! {ident.span()=>
        impl #p::ComponentGraph for #ident {
            const NODE: #p::Link = #p::Link::to(&NODE);
            // A component that reports a cycle stops there, so no
            // evaluation goes round the cycle.
            const DEPTH: usize = if CYCLE.is_some() {
                0
            } else {
                let depth = 0;
                #(let depth = #p::deeper(depth, #p::depth::<#ident, #deps>());)*
                depth
            };
        }

        impl #p::Component for #ident {
            const NAME: &'static str = #name;
            const DEPTH: usize = <#ident as #p::ComponentGraph>::DEPTH;
            const DEPENDENCIES: &'static [#p::Dependency] =
                &[#(#p::Dependency::new(<#ident as #p::DependsOn<#deps>>::NODE)),*];
            const TIMEOUTS: #p::Timeouts = #p::Timeouts {
                start: #start,
                stop_intake: #stop_intake,
                drain: #drain,
                teardown: #teardown,
            };
            #restart
            #telemetry
        }
    };

    quote! {
        const _: () = {
            static NODE: #p::Node = #p::Node::new(
                #p::concat!(#p::module_path!(), "::", #name),
                #name,
                #p::TypeId::of::<#ident>,
                &[#(<#ident as #p::DependsOn<#deps>>::NODE),*],
            );

            #component_impl

            #(#edges)*
            const CYCLE: #p::Option<usize> = #p::cycle(&NODE);
            #[allow(dead_code)]
            const DEPENDENCY_CYCLE: () = match CYCLE {
                #(#cycle_arms)*
                _ => {}
            };
            #p::inventory::submit! { #p::Registration::of::<#ident>() }
        };
    }
}

/// `::lifecycle::__private::Duration::new(secs, nanos)`.
fn duration(d: Duration) -> TokenStream {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    quote!(::lifecycle::__private::Duration::new(#secs, #nanos))
}

/// `Some(value)` or `None`, by absolute path.
fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::lifecycle::__private::Some(#value)),
        None => quote!(::lifecycle::__private::None),
    }
}
