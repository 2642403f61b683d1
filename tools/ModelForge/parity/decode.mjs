// Independent byte-exact reference for streamed LLM text: transformers.js decodes token ids of a forged model folder.
// Usage: node decode.mjs <model-folder>   with a JSON array of id arrays on stdin.
// Prints one JSON line: the decoded text of each id array (special tokens skipped, no clean-up of spaces).
// Only local files are read: remote models are disabled.
import { readFileSync } from 'node:fs';
import { loadLocalTokenizer } from './local_tokenizer.mjs';

const [folder] = process.argv.slice(2);
if (!folder) {
  console.error('usage: node decode.mjs <model-folder> < ids.json');
  process.exit(2);
}

const tokenizer = await loadLocalTokenizer(folder);
const sequences = JSON.parse(readFileSync(0, 'utf8'));
const texts = sequences.map((ids) => tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
console.log(JSON.stringify(texts));
