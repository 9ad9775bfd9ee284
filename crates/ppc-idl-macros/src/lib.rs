//! Proc-macros of `ppc-idl` (K42's stub compiler, for Rust traits).
//!
//! * `#[interface]` on a trait: emits the trait (with the `#[ppc(..)]`
//!   attributes removed), a client stub `<Trait>Client<'t>` and a server
//!   dispatch `<Trait>Server<S>`. See the `ppc-idl` crate docs for the
//!   attribute language and the generated API.
//! * `#[derive(Marshal)]` on a struct: `Marshal` + `Unmarshal` field by field.
//!
//! Generated code names the runtime as `::ppc_idl`, so users depend on
//! `ppc-idl` (which re-exports these macros), not on this crate.
//!
//! `syn` (full) parses the trait, `quote` emits code; both run on the host at
//! build time only.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Ts2};
use quote::{format_ident, quote, ToTokens};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Attribute, Data, DeriveInput, Error, Fields, FnArg, Ident, ItemTrait,
    LitInt, Pat, ReturnType, Token, TraitItem, Type,
};

/// Generates a PPC client stub and server dispatch from a trait.
#[proc_macro_attribute]
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return Error::new(Span::call_site(), "#[interface] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut tr = parse_macro_input!(item as ItemTrait);
    match expand(&mut tr) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `Marshal` and `Unmarshal` for a struct, field by field.
#[proc_macro_derive(Marshal)]
pub fn derive_marshal(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match derive(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn derive(input: &DeriveInput) -> syn::Result<Ts2> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "#[derive(Marshal)] supports plain structs without generic or lifetime parameters",
        ));
    }
    let Data::Struct(s) = &input.data else {
        return Err(Error::new(
            input.ident.span(),
            "#[derive(Marshal)] supports structs only",
        ));
    };
    let name = &input.ident;
    let (put, build) = match &s.fields {
        Fields::Named(f) => {
            let ids: Vec<_> = f.named.iter().map(|f| f.ident.clone().unwrap()).collect();
            let tys: Vec<_> = f.named.iter().map(|f| &f.ty).collect();
            (
                quote! { #( ::ppc_idl::Marshal::marshal(&self.#ids, w)?; )* },
                quote! { #name { #( #ids: <#tys as ::ppc_idl::Unmarshal<'m>>::unmarshal(r)?, )* } },
            )
        }
        Fields::Unnamed(f) => {
            let idx: Vec<_> = (0..f.unnamed.len()).map(syn::Index::from).collect();
            let tys: Vec<_> = f.unnamed.iter().map(|f| &f.ty).collect();
            (
                quote! { #( ::ppc_idl::Marshal::marshal(&self.#idx, w)?; )* },
                quote! { #name ( #( <#tys as ::ppc_idl::Unmarshal<'m>>::unmarshal(r)?, )* ) },
            )
        }
        Fields::Unit => (quote! {}, quote! { #name }),
    };
    Ok(quote! {
        impl ::ppc_idl::Marshal for #name {
            fn marshal(&self, w: &mut ::ppc_idl::Writer<'_>) -> ::core::result::Result<(), ::ppc_idl::PpcError> {
                #put
                ::core::result::Result::Ok(())
            }
        }
        impl<'m> ::ppc_idl::Unmarshal<'m> for #name {
            fn unmarshal(r: &mut ::ppc_idl::Reader<'m>) -> ::core::result::Result<Self, ::ppc_idl::PpcError> {
                ::core::result::Result::Ok(#build)
            }
        }
    })
}

#[derive(Default)]
struct MethodAttrs {
    id: Option<u32>,
    rights: u64,
    is_async: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// By value or `&str` / `&[u8]`.
    In,
    /// `&mut [u8]`: length in, bytes back.
    OutBuf,
    /// `&mut T`: value in, new value back.
    InOut,
    /// `ProcessId` supplied by the transport.
    Caller,
}

struct Param {
    ident: Ident,
    ty: Type,
    kind: Kind,
}

struct Method {
    ident: Ident,
    id: u32,
    rights: u64,
    is_async: bool,
    params: Vec<Param>,
    ret: Type,
}

fn is_ppc(a: &Attribute) -> bool {
    a.path().is_ident("ppc")
}

fn parse_method_attrs(attrs: &[Attribute]) -> syn::Result<MethodAttrs> {
    let mut m = MethodAttrs::default();
    for a in attrs.iter().filter(|a| is_ppc(a)) {
        a.parse_args_with(|input: ParseStream| {
            while !input.is_empty() {
                if input.peek(Token![async]) {
                    input.parse::<Token![async]>()?;
                    m.is_async = true;
                } else {
                    let key: Ident = input.parse()?;
                    input.parse::<Token![=]>()?;
                    let v: LitInt = input.parse()?;
                    match key.to_string().as_str() {
                        "id" => m.id = Some(v.base10_parse()?),
                        "rights" => m.rights = v.base10_parse()?,
                        _ => {
                            return Err(Error::new(
                                key.span(),
                                "expected `id = N`, `rights = MASK` or `async`",
                            ))
                        }
                    }
                }
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            Ok(())
        })?;
    }
    Ok(m)
}

/// `#[ppc(in)]`, `#[ppc(out)]` or `#[ppc(caller)]` on a parameter.
fn parse_param_attr(attrs: &[Attribute]) -> syn::Result<Option<(Kind, Span)>> {
    let mut k = None;
    for a in attrs.iter().filter(|a| is_ppc(a)) {
        a.parse_args_with(|input: ParseStream| {
            if input.peek(Token![in]) {
                input.parse::<Token![in]>()?;
                k = Some((Kind::In, a.span()));
            } else {
                let id: Ident = input.parse()?;
                k = Some((
                    match id.to_string().as_str() {
                        "out" => Kind::InOut,
                        "caller" => Kind::Caller,
                        _ => return Err(Error::new(id.span(), "expected `in`, `out` or `caller`")),
                    },
                    a.span(),
                ));
            }
            Ok(())
        })?;
    }
    Ok(k)
}

fn is_byte_slice(t: &Type) -> bool {
    matches!(t, Type::Slice(s) if s.elem.to_token_stream().to_string() == "u8")
}

fn method(index: usize, f: &mut syn::TraitItemFn) -> syn::Result<Method> {
    let attrs = parse_method_attrs(&f.attrs)?;
    f.attrs.retain(|a| !is_ppc(a));
    let sig = &mut f.sig;
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() {
        return Err(Error::new(
            sig.span(),
            "PPC methods are plain fns without generics (use #[ppc(async)] for one-way calls)",
        ));
    }
    let mut params = Vec::new();
    let mut inputs = sig.inputs.iter_mut();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        _ => {
            return Err(Error::new(
                sig.ident.span(),
                "PPC methods take `&self` (the server runs a fresh thread per call)",
            ))
        }
    }
    for arg in inputs {
        let FnArg::Typed(pt) = arg else {
            unreachable!("receiver only comes first")
        };
        let explicit = parse_param_attr(&pt.attrs)?;
        pt.attrs.retain(|a| !is_ppc(a));
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(Error::new(
                pt.pat.span(),
                "PPC parameters must be plain names",
            ));
        };
        let ty = (*pt.ty).clone();
        let inferred = match &ty {
            Type::Reference(r) if r.mutability.is_some() => {
                if is_byte_slice(&r.elem) {
                    Kind::OutBuf
                } else {
                    Kind::InOut
                }
            }
            _ => Kind::In,
        };
        let kind = match explicit {
            None => inferred,
            Some((Kind::Caller, _)) => Kind::Caller,
            Some((Kind::InOut, sp)) if inferred == Kind::In => {
                return Err(Error::new(
                    sp,
                    "an out parameter must be `&mut [u8]` or `&mut T`",
                ))
            }
            Some((Kind::In, sp)) if inferred != Kind::In => {
                return Err(Error::new(sp, "an in parameter cannot be `&mut`"))
            }
            Some(_) => inferred,
        };
        if attrs.is_async && kind != Kind::In && kind != Kind::Caller {
            return Err(Error::new(
                pt.span(),
                "an async method has no reply, so no out parameters",
            ));
        }
        params.push(Param {
            ident: pi.ident.clone(),
            ty,
            kind,
        });
    }
    let ret = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => {
            if attrs.is_async {
                return Err(Error::new(t.span(), "an async method returns nothing"));
            }
            if matches!(**t, Type::Reference(_)) {
                return Err(Error::new(
                    t.span(),
                    "a PPC result cannot borrow from the server: return an owned value",
                ));
            }
            (**t).clone()
        }
    };
    Ok(Method {
        ident: sig.ident.clone(),
        id: attrs.id.unwrap_or(index as u32),
        rights: attrs.rights,
        is_async: attrs.is_async,
        params,
        ret,
    })
}

fn inner_of_mut(t: &Type) -> Type {
    match t {
        Type::Reference(r) => (*r.elem).clone(),
        _ => t.clone(),
    }
}

fn expand(tr: &mut ItemTrait) -> syn::Result<Ts2> {
    let mut methods = Vec::new();
    let mut index = 0;
    for item in tr.items.iter_mut() {
        if let TraitItem::Fn(f) = item {
            methods.push(method(index, f)?);
            index += 1;
        }
    }
    for (i, a) in methods.iter().enumerate() {
        if let Some(b) = methods[..i].iter().find(|b| b.id == a.id) {
            return Err(Error::new(
                a.ident.span(),
                format!("method number {} already used by `{}`", a.id, b.ident),
            ));
        }
    }
    let trait_name = &tr.ident;
    let vis = &tr.vis;
    let client = format_ident!("{}Client", trait_name);
    let server = format_ident!("{}Server", trait_name);
    let p = quote!(::ppc_idl);

    let mut consts = Vec::new();
    let mut stubs = Vec::new();
    let mut arms = Vec::new();
    for m in &methods {
        let name = &m.ident;
        let cname = format_ident!("{}", name.to_string().to_uppercase());
        let id = m.id;
        let doc = format!("Method number of `{name}`.");
        consts.push(quote! { #[doc = #doc] pub const #cname: #p::MethodId = #id; });

        // ---- client stub ----
        let mut args = Vec::new();
        let mut put = Vec::new();
        let mut get = Vec::new();
        for prm in &m.params {
            let (x, ty) = (&prm.ident, &prm.ty);
            match prm.kind {
                Kind::Caller => continue,
                Kind::In => put.push(quote! { #p::Marshal::marshal(&#x, &mut w)?; }),
                Kind::OutBuf => {
                    put.push(quote! { w.put_len(#x.len())?; });
                    get.push(quote! {
                        let b = r.get_bytes()?;
                        if b.len() != #x.len() {
                            return ::core::result::Result::Err(#p::PpcError::Malformed);
                        }
                        #x.copy_from_slice(b);
                    });
                }
                Kind::InOut => {
                    let inner = inner_of_mut(ty);
                    put.push(quote! { #p::Marshal::marshal(&*#x, &mut w)?; });
                    get.push(quote! { *#x = <#inner as #p::Unmarshal<'_>>::unmarshal(&mut r)?; });
                }
            }
            args.push(quote! { #x: #ty });
        }
        let ret = &m.ret;
        let sdoc = format!("Calls `{trait_name}::{name}` (method {id}) through the transport.");
        let body = if m.is_async {
            quote! {
                let mut req = #p::Message::new();
                {
                    let mut w = req.async_writer();
                    #(#put)*
                }
                self.transport.send(self.handle, Self::#cname, &req)
            }
        } else {
            quote! {
                let mut req = #p::Message::new();
                {
                    let mut w = req.writer();
                    #(#put)*
                }
                let mut reply = #p::Message::new();
                self.transport.call(self.handle, Self::#cname, &req, &mut reply)?;
                let mut r = reply.reader();
                let ret = <#ret as #p::Unmarshal<'_>>::unmarshal(&mut r)?;
                #(#get)*
                ::core::result::Result::Ok(ret)
            }
        };
        stubs.push(quote! {
            #[doc = #sdoc]
            #[allow(unused_mut, unused_variables)]
            pub fn #name(&self, #(#args),*) -> ::core::result::Result<#ret, #p::PpcError> {
                #body
            }
        });

        // ---- server dispatch arm ----
        let mut unpack = Vec::new();
        let mut call_args = Vec::new();
        let mut reply_put = Vec::new();
        for prm in &m.params {
            let (x, ty) = (&prm.ident, &prm.ty);
            match prm.kind {
                Kind::Caller => call_args.push(quote! { call.caller }),
                Kind::In => {
                    unpack.push(quote! { let #x: #ty = #p::Unmarshal::unmarshal(&mut r)?; });
                    call_args.push(quote! { #x });
                }
                Kind::OutBuf => {
                    let buf = format_ident!("__{}_buf", x);
                    unpack.push(quote! {
                        let __n = r.get_len()?;
                        let mut #buf = [0u8; #p::PPC_PAGE_SIZE];
                        let #x: &mut [u8] = &mut #buf[..__n];
                    });
                    call_args.push(quote! { &mut *#x });
                    reply_put.push(quote! { w.put_bytes(#x)?; });
                }
                Kind::InOut => {
                    let inner = inner_of_mut(ty);
                    unpack.push(quote! { let mut #x: #inner = #p::Unmarshal::unmarshal(&mut r)?; });
                    call_args.push(quote! { &mut #x });
                    reply_put.push(quote! { #p::Marshal::marshal(&#x, &mut w)?; });
                }
            }
        }
        let rights = m.rights;
        let finish = if m.is_async {
            quote! { let _ = reply; }
        } else {
            quote! {
                let mut w = reply.writer();
                #p::Marshal::marshal(&__ret, &mut w)?;
                #(#reply_put)*
            }
        };
        arms.push(quote! {
            #id => {
                if !call.rights.contains(#p::Rights(#rights)) {
                    return ::core::result::Result::Err(#p::PpcError::NoRights);
                }
                let mut r = req.reader();
                #(#unpack)*
                #[allow(clippy::let_unit_value)]
                let __ret: #ret = <S as #trait_name>::#name(&self.0, #(#call_args),*);
                #finish
                ::core::result::Result::Ok(())
            }
        });
    }

    let cdoc = format!("PPC client stub of [`{trait_name}`]: one method per interface method.");
    let sdoc = format!(
        "PPC server dispatch of [`{trait_name}`]: wraps an implementation, checks rights, unmarshals and calls it."
    );
    Ok(quote! {
        #tr

        #[doc = #cdoc]
        #[derive(Clone, Copy)]
        #vis struct #client<'t> {
            handle: #p::ObjectHandle,
            transport: &'t dyn #p::Transport,
        }

        impl<'t> #client<'t> {
            #(#consts)*

            /// A stub calling the object `handle` through `transport`.
            pub fn new(transport: &'t dyn #p::Transport, handle: #p::ObjectHandle) -> Self {
                Self { handle, transport }
            }

            /// The object handle this stub calls.
            pub fn handle(&self) -> #p::ObjectHandle {
                self.handle
            }

            #(#stubs)*
        }

        #[doc = #sdoc]
        #vis struct #server<S>(pub S);

        impl<S: #trait_name> #p::Dispatch for #server<S> {
            #[allow(unused_mut, unused_variables)]
            fn dispatch(
                &self,
                call: &#p::CallInfo,
                req: &#p::Message,
                reply: &mut #p::Message,
            ) -> ::core::result::Result<(), #p::PpcError> {
                match call.method {
                    #(#arms)*
                    other => ::core::result::Result::Err(#p::PpcError::NoSuchMethod(other)),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn attrs(f: syn::TraitItemFn) -> Vec<Attribute> {
        f.attrs
    }

    #[test]
    fn method_attributes_parse_and_reject_unknown_keys() {
        let m = parse_method_attrs(&attrs(parse_quote! {
            #[ppc(id = 7, rights = 3, async)]
            fn f(&self);
        }))
        .unwrap();
        assert_eq!((m.id, m.rights, m.is_async), (Some(7), 3, true));
        let err = parse_method_attrs(&attrs(parse_quote! {
            #[ppc(colour = 1)]
            fn f(&self);
        }))
        .err()
        .expect("an unknown key is an error");
        assert!(err.to_string().contains("expected `id = N`"), "{err}");
    }

    #[test]
    fn parameter_attributes_parse() {
        let f: syn::TraitItemFn = parse_quote! {
            fn f(&self, #[ppc(in)] a: u32, #[ppc(out)] b: &mut [u8], #[ppc(caller)] c: ProcessId, d: u8);
        };
        let kinds: Vec<Option<Kind>> = f
            .sig
            .inputs
            .iter()
            .filter_map(|i| match i {
                syn::FnArg::Typed(t) => Some(parse_param_attr(&t.attrs).unwrap().map(|k| k.0)),
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        assert!(kinds == [Some(Kind::In), Some(Kind::InOut), Some(Kind::Caller), None]);
        let bad: syn::TraitItemFn = parse_quote! { fn f(&self, #[ppc(sideways)] a: u32); };
        let syn::FnArg::Typed(t) = &bad.sig.inputs[1] else {
            unreachable!("a typed argument")
        };
        assert!(parse_param_attr(&t.attrs).is_err());
    }

    #[test]
    fn duplicate_method_numbers_are_refused() {
        let mut tr: ItemTrait = parse_quote! {
            trait T {
                #[ppc(id = 1)]
                fn a(&self);
                fn b(&self);
            }
        };
        let Err(err) = expand(&mut tr) else {
            panic!("ids 1 and 1 collide")
        };
        assert!(
            err.to_string()
                .contains("method number 1 already used by `a`"),
            "{err}"
        );
        let mut ok: ItemTrait = parse_quote! {
            trait T {
                fn a(&self);
                fn b(&self, x: u32) -> u64;
            }
        };
        let out = expand(&mut ok).unwrap().to_string();
        assert!(out.contains("TClient") && out.contains("TServer"), "{out}");
    }
}
