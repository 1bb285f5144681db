//! Decodes a data-channel message given as hex on the command line (or
//! the reference acknowledge message from the protocol notes) and prints
//! its header fields and payload.
//!
//! `cargo run -p ssm-examples --example decode_message -- <HEX>`

use ssm_proto::ClientMessage;
use ssm_proto::message::{FLAGS_ACK, MessageType, PayloadType};
use ssm_proto::payload::AcknowledgeContent;

fn reference_ack() -> Vec<u8> {
    let acked_id = "dd01e56b-ff48-483e-a508-b5f073f31b16"
        .parse()
        .expect("valid uuid");
    let content = AcknowledgeContent {
        acknowledged_message_type: "output_stream_data".into(),
        acknowledged_message_id: "dd01e56b-ff48-483e-a508-b5f073f31b16".into(),
        acknowledged_message_sequence_number: 0,
        is_sequential_message: true,
    };
    ClientMessage::new(
        MessageType::Acknowledge,
        1_503_434_274_948,
        0,
        FLAGS_ACK,
        acked_id,
        PayloadType::Undefined,
        content.to_bytes(),
    )
    .encode()
    .to_vec()
}

fn main() -> anyhow::Result<()> {
    let bytes = match std::env::args().nth(1) {
        Some(text) => hex::decode(text.trim())?,
        None => reference_ack(),
    };
    let message = ClientMessage::decode(&bytes)?;
    println!("type:      {}", message.message_type);
    println!("sequence:  {}", message.sequence_number);
    println!("flags:     {}", message.flags);
    println!("id:        {}", message.message_id);
    println!("created:   {} ms", message.created_date);
    println!(
        "payload:   {:?}, {} bytes",
        message.payload_type,
        message.payload.len()
    );
    println!("{}", String::from_utf8_lossy(&message.payload));
    Ok(())
}
