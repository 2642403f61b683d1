// Independent byte-exact reference for streamed LLM text: transformers.js decodes token ids of a forged model folder.
// Usage: node decode.mjs <model-folder>   with a JSON array of id arrays on stdin.
// Prints one JSON line: the decoded text of each id array (special tokens skipped, no clean-up of spaces).
// Only local files are read: remote models are disabled.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { env, AutoTokenizer } from '@huggingface/transformers';

const [folder] = process.argv.slice(2);
if (!folder) {
  console.error('usage: node decode.mjs <model-folder> < ids.json');
  process.exit(2);
}

const absolute = path.resolve(folder);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(absolute);
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(absolute));
const sequences = JSON.parse(readFileSync(0, 'utf8'));
const texts = sequences.map((ids) => tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
console.log(JSON.stringify(texts));
