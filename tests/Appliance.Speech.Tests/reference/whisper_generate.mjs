// Independent check of a forged Whisper folder with transformers.js (ONNX Runtime for Node underneath):
// WhisperFeatureExtractor from preprocessor_config.json, then WhisperForConditionalGeneration.generate, greedy.
// Only local files are read: remote models are disabled.
//
// usage: node whisper_generate.mjs <model-folder> <input.f32> <language> <max-new-tokens>
//   input.f32: raw little-endian float32 mono samples at 16 kHz (at most 30 s: one window)
// Prints one JSON line: {"sequence":[...]} the whole decoder sequence (prompt tokens, then generated ones).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { env, AutoFeatureExtractor, WhisperForConditionalGeneration } from '@huggingface/transformers';

const [folder, input, language, maxNewTokensText] = process.argv.slice(2);
if (!folder || !input || !language || !maxNewTokensText) {
    console.error('usage: node whisper_generate.mjs <model-folder> <input.f32> <language> <max-new-tokens>');
    process.exit(2);
}

const absolute = path.resolve(folder);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(absolute);
const name = path.basename(absolute);

const bytes = readFileSync(input);
const audio = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.byteLength & ~3)));
const extractor = await AutoFeatureExtractor.from_pretrained(name);
const { input_features } = await extractor(audio);
const model = await WhisperForConditionalGeneration.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
const output = await model.generate({
    inputs: input_features,
    language,
    task: 'transcribe',
    return_timestamps: false,
    max_new_tokens: Number.parseInt(maxNewTokensText, 10),
    do_sample: false,
    num_beams: 1,
});
console.log(JSON.stringify({ sequence: Array.from(output.tolist()[0], Number) }));
await model.dispose();
