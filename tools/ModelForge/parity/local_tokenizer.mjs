// The tokenizer of a local folder through transformers.js, with remote models disabled: only local files are read.
import path from 'node:path';
import { env, AutoTokenizer } from '@huggingface/transformers';

export async function loadLocalTokenizer(folder) {
  const absolute = path.resolve(folder);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(absolute);
  return AutoTokenizer.from_pretrained(path.basename(absolute));
}
