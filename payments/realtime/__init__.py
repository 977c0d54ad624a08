"""Real time: Socket.IO, Server-Sent Events, long polls, and the bus between processes."""
