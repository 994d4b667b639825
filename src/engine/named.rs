//! `named_future!`: the public, named futures around the engine's
//! [`Timed`](super::Timed) driver, declared once for every primitive.

/// Declares a public named future around a `Timed<Op>`, mapping the op's
/// output to the front-end's output. Generics are optional:
///
/// ```ignore
/// named_future! { /// docs
///     pub struct Name<'a, T>(Op<'a, T>) -> Output; |out| map(out) }
/// named_future! { /// docs
///     pub struct Owned(OwnedOp) -> Output; |out| out }
/// named_future! { /// docs (generic, no lifetime; bounds in a `where`)
///     pub struct OwnedOf<T>(OwnedOp<T>) -> Output<T> where [T: ?Sized]; |out| out }
/// ```
macro_rules! named_future {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<$lt:lifetime $(, $gen:ident)*>($op:ty) -> $out:ty
        $(where [$($bounds:tt)*])?
        ;
        |$o:ident| $map:expr
    ) => {
        $crate::engine::named_future! {
            @impl [$(#[$meta])*] $name [$lt $(, $gen)*] ($op) -> $out
            [$($($bounds)*)?] |$o| $map
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident<$($gen:ident),+>($op:ty) -> $out:ty
        $(where [$($bounds:tt)*])?
        ;
        |$o:ident| $map:expr
    ) => {
        $crate::engine::named_future! {
            @impl [$(#[$meta])*] $name [$($gen),+] ($op) -> $out
            [$($($bounds)*)?] |$o| $map
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident($op:ty) -> $out:ty;
        |$o:ident| $map:expr
    ) => {
        $crate::engine::named_future! {
            @impl [$(#[$meta])*] $name [] ($op) -> $out [] |$o| $map
        }
    };
    (
        @impl [$($meta:tt)*] $name:ident [$($params:tt)*] ($op:ty) -> $out:ty
        [$($bounds:tt)*] |$o:ident| $map:expr
    ) => {
        $($meta)*
        ///
        /// # Panics
        ///
        /// Polling the future again after it returned `Ready` panics, as for
        /// most futures.
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct $name<$($params)*> where $($bounds)* {
            inner: $crate::engine::Timed<$op>,
        }

        impl<$($params)*> $name<$($params)*> where $($bounds)* {
            #[inline]
            #[allow(dead_code)]
            pub(crate) fn new(op: $op, deadline: Option<std::time::Instant>) -> Self {
                $name { inner: $crate::engine::Timed::new(op, deadline) }
            }

            #[inline]
            #[allow(dead_code)]
            pub(crate) fn block(self) -> $out {
                let $o = self.inner.block();
                $map
            }

            /// See [`Timed::block_after_try`](crate::engine::Timed::block_after_try).
            #[inline]
            #[allow(dead_code)]
            pub(crate) fn block_after_try(self) -> $out {
                let $o = self.inner.block_after_try();
                $map
            }
        }

        impl<$($params)*> std::future::Future for $name<$($params)*> where $($bounds)* {
            type Output = $out;

            #[inline]
            fn poll(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$out> {
                self.inner.poll(cx).map(|$o| $map)
            }
        }

        impl<$($params)*> std::fmt::Debug for $name<$($params)*> where $($bounds)* {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        /// Terminated once it has returned `Ready`, so `futures::select!`
        /// takes it without `.fuse()`.
        #[cfg(feature = "futures-core")]
        impl<$($params)*> futures_core::future::FusedFuture for $name<$($params)*>
        where $($bounds)*
        {
            fn is_terminated(&self) -> bool {
                self.inner.is_done()
            }
        }
    };
}
pub(crate) use named_future;
