use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
pub struct DnsMessage {
    pub id: u16,
    pub is_response: bool,
    pub rcode: u8,
    pub questions: Vec<(String, u16)>,
    pub answers: Vec<Answer>,
}
pub struct Answer {
    pub name: String,
    pub ttl: u32,
    pub data: AnswerData,
}
pub enum AnswerData {
    Addr(IpAddr),
    Cname(String),
    Https {
        target: String,
        ipv4hint: Vec<Ipv4Addr>,
        ipv6hint: Vec<Ipv6Addr>,
        ech: bool,
    },
    Other(u16),
}
pub fn parse(_m: &[u8]) -> Option<DnsMessage> {
    None
}
pub fn split_tcp(_s: &[u8]) -> (Vec<&[u8]>, usize) {
    (Vec::new(), 0)
}
pub fn probe_udp(_p: &[u8], _s: u16, _d: u16) -> bool {
    false
}
