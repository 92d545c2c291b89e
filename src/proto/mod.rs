//! STUB (replaced by the proto branch).
pub mod dns;
pub mod http;
pub mod tls;
pub enum Parse<T> {
    NeedMore,
    Done(T),
    NotThis,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Tls,
    Http,
    Dns,
    Quic,
}
impl App {
    pub fn as_str(self) -> &'static str {
        match self {
            App::Tls => "tls",
            App::Http => "http",
            App::Dns => "dns",
            App::Quic => "quic",
        }
    }
}
