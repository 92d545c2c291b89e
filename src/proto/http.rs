use super::Parse;
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub host_raw: Option<String>,
}
pub fn probe(_s: &[u8]) -> bool {
    false
}
pub fn parse_request_head(_s: &[u8]) -> Parse<HttpRequest> {
    Parse::NotThis
}
