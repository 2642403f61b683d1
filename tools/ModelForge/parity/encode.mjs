// Token ids of a text with the tokenizer of a folder (no special tokens added), from transformers.js.
// Usage: node encode.mjs <tokenizer-folder> <text>   Prints one JSON line: the ids.
// Only local files are read: remote models are disabled.
import path from 'node:path';
import { env, AutoTokenizer } from '@huggingface/transformers';

const [folder, text] = process.argv.slice(2);
if (!folder || text === undefined) {
  console.error('usage: node encode.mjs <tokenizer-folder> <text>');
  process.exit(2);
}

const absolute = path.resolve(folder);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(absolute);
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(absolute));
console.log(JSON.stringify(tokenizer.encode(text, { add_special_tokens: false })));
