#!/usr/bin/env python3
"""Reference decode of an Opus packet stream with losses, made by libopus itself (libopus.so.0 through ctypes).

Every received packet is decoded as it is (DTX packets included). A run of lost packets before a received one is
rebuilt the way libopus documents it (opus.h, opus_decode): the lost audio is decoded with no data (packet-loss
concealment), except the last lost packet, which is decoded from the received packet with decode_fec=1 (in-band
forward error correction, concealment when the packet carries none); each lost packet is taken to be as long as the
received one.

Usage: opus_loss_reference.py PACKETS RATE CHANNELS OUT
PACKETS holds records of (u8 lost, u32 little-endian length, packet bytes); OUT gets float32 little-endian
interleaved samples.
"""
import ctypes
import struct
import sys


def main(packets_path, rate, channels, out_path):
    opus = ctypes.CDLL("libopus.so.0")
    opus.opus_decoder_create.restype = ctypes.c_void_p
    opus.opus_decoder_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    opus.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    opus.opus_packet_get_nb_samples.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    error = ctypes.c_int()
    state = opus.opus_decoder_create(rate, channels, ctypes.byref(error))
    if error.value != 0:
        sys.exit(f"opus_decoder_create failed: {error.value}")

    max_samples = rate * 120 // 1000
    pcm = (ctypes.c_float * (max_samples * channels))()
    out = bytearray()

    def emit(count):
        if count < 0:
            sys.exit(f"libopus error {count}")
        out.extend(bytes(pcm)[: count * channels * 4])

    data = open(packets_path, "rb").read()
    position, lost = 0, 0
    while position < len(data):
        flag = data[position]
        (length,) = struct.unpack_from("<I", data, position + 1)
        packet = data[position + 5 : position + 5 + length]
        position += 5 + length
        if flag:
            lost += 1
            continue

        buffer = (ctypes.c_ubyte * len(packet)).from_buffer_copy(packet)
        if lost:
            duration = opus.opus_packet_get_nb_samples(buffer, len(packet), rate)
            for _ in range(lost - 1):
                emit(opus.opus_decode_float(state, None, 0, pcm, duration, 0))
            emit(opus.opus_decode_float(state, buffer, len(packet), pcm, duration, 1))
            lost = 0
        emit(opus.opus_decode_float(state, buffer, len(packet), pcm, max_samples, 0))

    open(out_path, "wb").write(out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
