//! A stand-in for shell sessions (`Standard_Stream`): echoes input, so
//! clients that do not support shells can be tested for a clear refusal.

use super::port::{PortHandle, PortInput, PortOutput, port_queues};

/// Starts the echo shell.
pub(crate) fn start() -> PortHandle {
    let (input_tx, mut input_rx, output_tx, output_rx) = port_queues();
    let task = tokio::spawn(async move {
        while let Some(item) = input_rx.recv().await {
            if let PortInput::Data(bytes) = item
                && output_tx.send(PortOutput::Data(bytes)).await.is_err()
            {
                return;
            }
        }
    });
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks: vec![task],
        hostile: None,
    }
}
