import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hasGenerationMarkers, loadTokenizer } from '../src/tokenize/index.js';
import { repoRoot } from './helpers/paths.js';

const gpt2 = loadTokenizer(path.join(repoRoot, 'test', 'fixtures', 'tokenize', 'gpt2-bpe'));
const template =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' }}{% if m['role'] == 'assistant' %}{%- generation -%}{{ m['content'] + '<|im_end|>' }}{%- endgeneration %}{{ '\n' }}{% else %}{{ m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}";

describe('applyChatTemplateWithAssistantMask (return_assistant_tokens_mask)', () => {
  it('renders the same ids as applyChatTemplate and marks only the generation block', () => {
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ];
    const { inputIds, assistantMasks } = gpt2.applyChatTemplateWithAssistantMask(messages, { chatTemplate: template });
    assert.deepEqual(inputIds, gpt2.applyChatTemplate(messages, { chatTemplate: template, tokenize: true }));
    const marked = inputIds.filter((_, index) => assistantMasks[index] === 1);
    assert.equal(gpt2.decode(marked), 'hello<|im_end|>');
  });
  it('hasGenerationMarkers accepts the whitespace-trim variants', () => {
    assert.equal(hasGenerationMarkers('{%- generation -%}x{% endgeneration %}'), true);
    assert.equal(hasGenerationMarkers('{% if x %}generation{% endif %}'), false);
  });
});
