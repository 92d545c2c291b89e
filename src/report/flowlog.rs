//! The flow log: one JSON object per flow, streamed as flows end. A public interface (documented
//! in the README); fields are only ever added, never renamed.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::time::rfc3339_micros;
use crate::decode::addr::is_public;
use crate::flow::Flow;
use crate::proto::quic::VersionName;

/// A flow as written to the log. Borrowed from the flow: building one allocates only strings
/// for the timestamps.
#[derive(Serialize)]
pub struct FlowRecord<'a> {
    pub file: &'a str,
    pub first_seen: String,
    pub last_seen: String,
    pub proto: &'static str,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub vlan: &'a [u16],
    pub packets_up: u64,
    pub packets_down: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub app: Option<&'static str>,
    pub host: Option<&'a str>,
    pub host_source: Option<&'static str>,
    pub ech: bool,
    /// The SNI is an ECH outer name (evidence: a known public name or an HTTPS/SVCB record in
    /// the capture naming it); false for GREASE ECH, whose SNI is the real name.
    pub ech_outer: bool,
    /// ECH flows only: the name inferred from an HTTPS record this client resolved whose ECH
    /// public name is the outer SNI (`host`). When set, `areas` and `endpoints` are this name's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred_host: Option<&'a str>,
    /// QUIC version: "v1", "v2", "draft-NN", Google's "T051"/"Q046"/..., "mvfst-22"/"mvfst-27", or "0x"
    /// and 8 hex digits for others (`proto::quic::VersionName`); null for non-QUIC flows.
    pub quic_version: Option<VersionName>,
    pub public: bool,
    pub names: Vec<&'a str>,
    /// Distinct names the flow carried beyond `names` (its `--max-names-per-flow` bound); the
    /// report still counts every one. Omitted when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub names_unlisted: u32,
    pub areas: &'a [String],
    pub endpoints: &'a [String],
    /// The most specific endpoint matched only because a `*` produced a shared cloud's customer
    /// name (`*.blob.core.windows.net`): anyone can own the host. Omitted when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared_infrastructure: bool,
    /// Only on `--flow-update` records of a flow still open (`true`): counters so far, not
    /// final. The flow's final record follows later with its totals; a consumer that sums
    /// records counts final records only, or takes each interim record's growth.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interim: bool,
    /// Flows read from Zeek/Suricata logs: the fields those logs do not record (their values
    /// here are defaults, not observations). Absent for flows from packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<&'a [&'static str]>,
}

impl<'a> FlowRecord<'a> {
    pub fn new(
        flow: &'a Flow,
        file: &'a str,
        areas: &'a [String],
        endpoints: &'a [String],
    ) -> Self {
        FlowRecord {
            file,
            first_seen: rfc3339_micros(flow.first_seen),
            last_seen: rfc3339_micros(flow.last_seen),
            proto: flow.protocol_name(),
            client_ip: flow.client().0,
            client_port: flow.client().1,
            server_ip: flow.server().0,
            server_port: flow.server().1,
            vlan: flow.key.vlans.as_slice(),
            packets_up: flow.up.packets,
            packets_down: flow.down.packets,
            bytes_up: flow.up.bytes,
            bytes_down: flow.down.bytes,
            app: flow.app.map(|a| a.as_str()),
            host: flow.host.as_deref(),
            host_source: flow.host_source.map(|s| s.as_str()),
            ech: flow.ech,
            ech_outer: flow.ech_outer,
            inferred_host: flow.extra().inferred_host.as_deref(),
            quic_version: flow.extra().quic_version.map(VersionName),
            public: is_public(&flow.server().0),
            names: flow.names().iter().map(|n| &**n).collect(),
            names_unlisted: flow.extra().names_dropped,
            areas,
            endpoints,
            shared_infrastructure: false,
            interim: flow.interim().is_some(),
            unknown: None,
        }
    }

    /// Mark the match as shared cloud infrastructure.
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared_infrastructure = shared;
        self
    }
}

/// Writes records as JSON Lines.
pub struct FlowLogWriter<W: Write> {
    out: W,
    pub written: u64,
}

impl<W: Write> FlowLogWriter<W> {
    pub fn new(out: W) -> Self {
        FlowLogWriter { out, written: 0 }
    }

    pub fn write(&mut self, rec: &FlowRecord<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, rec)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Write a line [`render`] made (possibly on another thread): the same bytes [`Self::write`]
    /// would have written for its record.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.written += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `rec` as one line of the log (with its newline), as [`FlowLogWriter::write`] writes it.
pub fn render(rec: &FlowRecord<'_>) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, rec)?;
    out.push(b'\n');
    Ok(out)
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
