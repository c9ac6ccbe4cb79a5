import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';

export interface NearestToken {
  id: number;
  similarity: number;
}

/**
 * For each soft-prompt vector (rows of `prompt` [n, dim]), the `k` vocabulary embeddings (rows of `vocabulary`
 * [V, dim]) with the highest cosine similarity: what the virtual token is closest to "meaning".
 */
export function nearestTokens(prompt: Tensor, vocabulary: Tensor, k = 5): NearestToken[][] {
  return noGrad(() =>
    tidy(() => {
      const normalize = (x: Tensor) => x.float().div(x.float().norm(2, -1, true).clamp(1e-12));
      const similarity = normalize(prompt).matmul(normalize(vocabulary).t());
      const { values, indices } = similarity.topk(Math.min(k, vocabulary.shape[0]), -1);
      const scores = values.toArray() as number[][];
      const ids = indices.toArray() as number[][];
      return ids.map((row, i) => row.map((id, j) => ({ id, similarity: scores[i][j] })));
    }),
  );
}
