use super::Parse;
pub struct ClientHello {
    pub sni: Option<String>,
    pub ech: bool,
    pub alpn: Vec<String>,
}
pub fn probe(_s: &[u8]) -> bool {
    false
}
pub fn parse_client_hello(_s: &[u8]) -> Parse<ClientHello> {
    Parse::NotThis
}
