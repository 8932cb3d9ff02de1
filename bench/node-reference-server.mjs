// The load benchmark's anchor: a minimal Node.js Socket.IO server with the reference design's
// relay semantics (socket.io 4.8, no express: static files play no part in the benchmark).
// offer/answer/ice-candidate/data-channel-message go to the whole room except the sender,
// `from` is whatever the client wrote, rooms are a Map of userId → {socketId, userData}.
// Written for this benchmark; it is not the product and fixes none of the reference's bugs.

import { createServer } from "node:http";
import { Server } from "socket.io";

const rooms = new Map();
const http = createServer((req, res) => {
  if (req.url === "/api/rooms") {
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        totalRooms: rooms.size,
        rooms: [...rooms.entries()].map(([roomId, room]) => ({ roomId, userCount: room.users.size, users: [...room.users.keys()] })),
      }),
    );
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(http, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  socket.on("join-room", (roomId, userId, userData) => {
    for (const r of socket.rooms) if (r !== socket.id) socket.leave(r);
    socket.join(roomId);
    if (!rooms.has(roomId)) rooms.set(roomId, { users: new Map() });
    const room = rooms.get(roomId);
    room.users.set(userId, { socketId: socket.id, userData });
    socket.to(roomId).emit("user-joined", { userId, userData, roomSize: room.users.size });
    socket.emit("room-state", {
      users: [...room.users.entries()].map(([id, d]) => ({ userId: id, userData: d.userData })).filter((u) => u.userId !== userId),
    });
  });
  for (const kind of ["offer", "answer", "ice-candidate"]) {
    const field = kind === "ice-candidate" ? "candidate" : kind;
    socket.on(kind, (data) => {
      socket.to(data.roomId).emit(kind, { [field]: data[field], from: data.from, to: data.to });
    });
  }
  socket.on("data-channel-message", (data) => {
    socket.to(data.roomId).emit("data-channel-message", { message: data.message, type: data.type, from: data.from, timestamp: new Date().toISOString() });
  });
  socket.on("disconnect", () => {
    rooms.forEach((room, roomId) => {
      room.users.forEach((u, userId) => {
        if (u.socketId === socket.id) {
          room.users.delete(userId);
          socket.to(roomId).emit("user-left", { userId });
          if (room.users.size === 0) rooms.delete(roomId);
        }
      });
    });
  });
});

http.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`reference node server listening on http://127.0.0.1:${http.address().port}`);
});
process.on("SIGTERM", () => {
  io.close();
  http.close(() => process.exit(0));
});
