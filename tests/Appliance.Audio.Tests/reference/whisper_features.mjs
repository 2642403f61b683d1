// Reference Whisper log-mel features computed by transformers.js (an implementation independent of
// Appliance.Audio), used by the C# parity tests.
//
// usage: node whisper_features.mjs <input.wav|input.f32> <output.f32> [feature_size=80]
//   input.wav: RIFF/WAVE, PCM 16-bit or IEEE float 32-bit, mono, 16 kHz
//   input.f32: raw little-endian float32 mono samples at 16 kHz
// The audio is cut into consecutive 30 s windows (the last one zero-padded, as the extractor does)
// and each window's features [feature_size x 3000] are appended to output.f32 as little-endian float32.
// A JSON line {"windows":N,"featureSize":F,"frames":3000} is printed on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { WhisperFeatureExtractor } from '@huggingface/transformers';

const [input, output, featureSizeArg] = process.argv.slice(2);
if (!input || !output) {
    console.error('usage: node whisper_features.mjs <input.wav|input.f32> <output.f32> [feature_size]');
    process.exit(2);
}
const featureSize = Number(featureSizeArg ?? 80);
const samplingRate = 16000;
const chunkLength = 30;
const nSamples = samplingRate * chunkLength;

function readWav(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tag = (o) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
    if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
    let offset = 12;
    let format = null;
    while (offset + 8 <= bytes.length) {
        const id = tag(offset);
        const size = view.getUint32(offset + 4, true);
        const body = offset + 8;
        if (id === 'fmt ') {
            format = {
                code: view.getUint16(body, true),
                channels: view.getUint16(body + 2, true),
                rate: view.getUint32(body + 4, true),
                bits: view.getUint16(body + 14, true),
            };
        } else if (id === 'data') {
            if (!format) throw new Error('data chunk before fmt chunk');
            if (format.channels !== 1 || format.rate !== samplingRate) {
                throw new Error(`expected mono ${samplingRate} Hz, got ${format.channels} ch ${format.rate} Hz`);
            }
            const end = Math.min(body + size, bytes.length);
            if (format.code === 1 && format.bits === 16) {
                const n = Math.floor((end - body) / 2);
                const out = new Float32Array(n);
                for (let i = 0; i < n; ++i) out[i] = view.getInt16(body + 2 * i, true) / 32768;
                return out;
            }
            if (format.code === 3 && format.bits === 32) {
                const n = Math.floor((end - body) / 4);
                const out = new Float32Array(n);
                for (let i = 0; i < n; ++i) out[i] = view.getFloat32(body + 4 * i, true);
                return out;
            }
            throw new Error(`unsupported WAV format ${format.code} / ${format.bits} bits`);
        }
        offset = body + size + (size & 1);
    }
    throw new Error('no data chunk');
}

const bytes = readFileSync(input);
const audio = input.toLowerCase().endsWith('.wav')
    ? readWav(bytes)
    : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.byteLength & ~3)));

// No mel_filters given: the extractor computes them itself (mel_filter_bank, slaney scale and norm).
const extractor = new WhisperFeatureExtractor({
    feature_size: featureSize,
    sampling_rate: samplingRate,
    hop_length: 160,
    chunk_length: chunkLength,
    n_fft: 400,
    n_samples: nSamples,
    nb_max_frames: nSamples / 160,
    padding_value: 0.0,
    return_attention_mask: false,
});

const windows = Math.max(1, Math.ceil(audio.length / nSamples));
const parts = [];
for (let w = 0; w < windows; ++w) {
    const slice = audio.subarray(w * nSamples, Math.min(audio.length, (w + 1) * nSamples));
    const { input_features } = await extractor(slice);
    parts.push(Buffer.from(new Float32Array(input_features.data).buffer));
}
writeFileSync(output, Buffer.concat(parts));
console.log(JSON.stringify({ windows, featureSize, frames: nSamples / 160 }));
