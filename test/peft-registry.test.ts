// The PEFT method registry: typed builders give what Hugging Face PEFT writes, every built-in method is reached
// through the registry alone (selective and QLoRA included), and a method from outside needs nothing but its
// own declaration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type AdapterConfigBase,
  type AdapterLayer,
  getPeftModel,
  ia3Config,
  loadAdapter,
  loadModelFromFolder,
  loraConfig,
  manualSeed,
  nn,
  noGrad,
  ones,
  PeftModel,
  type PeftMethod,
  promptTuningConfig,
  qloraConfig,
  readAdapterConfig,
  registerPeftMethod,
  saveAdapter,
  selectiveConfig,
  serializeAdapterConfig,
  type Tensor,
  tidy,
} from '../src/index.js';
import { trainBriefly } from './helpers/peft-configs.js';
import { modelFixtures } from './helpers/model-folders.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-registry-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const llamaDir = path.join(modelFixtures, 'llama_tied');
const batch = { inputIds: [[1, 5, 9, 3, 7]], labels: [[1, 5, 9, 3, 7]] };
const logitsOf = (model: { logits(b: typeof batch): Tensor }) => tidy(() => model.logits(batch).toFloat32Array());

type Recorded = Record<string, Record<string, unknown>>;
const recorded = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'peft', 'builder-defaults.json'), 'utf8')) as Recorded;

/** Every key tunekit writes equals what PEFT writes for the same arguments. */
function assertWritesAsPeft(ours: AdapterConfigBase, theirs: Record<string, unknown>, label: string): void {
  for (const [key, value] of Object.entries(serializeAdapterConfig(ours))) assert.deepEqual(value, theirs[key], `${label}: "${key}"`);
}

describe('typed config builders', () => {
  const builders: [string, AdapterConfigBase][] = [
    ['lora', loraConfig({ r: 8, targetModules: 'all-linear' })],
    ['lora_bare', loraConfig()],
    ['ia3', ia3Config()],
    ['prompt_tuning', promptTuningConfig({ numVirtualTokens: 20 })],
  ];

  it('give the adapter_config.json values PEFT 0.21 writes (recorded)', () => {
    for (const [name, config] of builders) assertWritesAsPeft(config, recorded[name], name);
  });

  it('give the values the installed PEFT writes', { skip: pythonHas('peft') ? false : 'python peft not installed' }, () => {
    const out = spawnSync(process.env.PYTHON ?? 'python3', [path.join(repoRoot, 'bench', 'peer', 'peft_config_defaults.py')], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const live = JSON.parse(out.stdout) as Recorded;
    for (const [name, config] of builders) assertWritesAsPeft(config, live[name], name);
  });

  it('getPeftModel fills base_model_name_or_path from where the model was loaded', async () => {
    const peft = getPeftModel(await loadModelFromFolder(llamaDir), loraConfig({ r: 2 }));
    assert.equal(peft.adapterConfig('default').baseModelNameOrPath, llamaDir);
    peft.dispose();
  });
});

describe('methods through the registry', () => {
  it('selective fine-tuning is an adapter: only its parameters train, the base comes back, it saves and loads', async () => {
    manualSeed(1);
    const base = await loadModelFromFolder(llamaDir);
    const bare = logitsOf(base);
    const peft = new PeftModel(base);
    peft.addAdapter('bitfit', selectiveConfig({ bitfit: true }));
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([name]) => name);
    assert.ok(trainable.length > 0 && trainable.every((name) => /norm/.test(name)), trainable.join(', '));
    trainBriefly(peft, batch);
    const tuned = logitsOf(peft);
    assert.notDeepEqual(tuned, bare);
    assert.deepEqual(peft.withAdapter(null, () => logitsOf(peft)), bare);
    const dir = path.join(scratch, 'selective');
    await saveAdapter(peft, dir);
    assert.equal((await readAdapterConfig(dir)).peftType, 'SELECTIVE');
    const again = new PeftModel(await loadModelFromFolder(llamaDir));
    await loadAdapter(again, dir);
    assert.deepEqual(logitsOf(again), tuned);
    peft.deleteAdapter('bitfit');
    assert.deepEqual(logitsOf(peft), bare);
    peft.dispose();
    again.dispose();
  });

  it('a QLoRA config quantizes the base and saves a plain LoRA adapter, as PEFT writes it', async () => {
    manualSeed(2);
    const peft = getPeftModel(await loadModelFromFolder(llamaDir), qloraConfig({ r: 4, targetModules: ['q_proj', 'v_proj'], taskType: 'CAUSAL_LM' }));
    const projections = [...peft.model.namedModules()].filter(([, module]) => module instanceof nn.ProjectionLayer);
    assert.ok(projections.some(([, layer]) => (layer as nn.ProjectionLayer).quantizedWeight !== null));
    trainBriefly(peft, batch);
    const dir = path.join(scratch, 'qlora');
    await saveAdapter(peft, dir);
    const written = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(written.peft_type, 'LORA');
    assert.equal((await readAdapterConfig(dir)).peftType, 'LORA');
    peft.dispose();
  });

  it('a method from outside registers itself and works with PeftModel and the PEFT format unchanged', async () => {
    /** Scales every targeted projection's output by a learned vector (an IA³ without the feed-forward rule). */
    class OutputScale implements AdapterLayer {
      readonly vectors: nn.ParameterDict;
      active: string[] = [];
      constructor(readonly layer: nn.ProjectionLayer) {
        this.vectors = layer.setChild('scale_vec', new nn.ParameterDict());
        layer.adapters.push(this);
      }
      get names(): string[] {
        return this.vectors.namedParameters().map(([key]) => key);
      }
      delete(name: string): void {
        this.vectors.delete(name);
        this.active = this.active.filter((active) => active !== name);
      }
      detach(): void {
        this.layer.deleteChild('scale_vec');
        this.layer.adapters.splice(this.layer.adapters.indexOf(this), 1);
      }
      adaptOutput(_input: Tensor, output: Tensor): Tensor {
        let y = output;
        for (const name of this.active) {
          const vector = this.vectors.get(name);
          if (vector !== undefined) y = y.mul(vector);
        }
        return y;
      }
    }
    interface ScaleConfig extends AdapterConfigBase {
      peftType: 'TEST_SCALE';
      target: string;
    }
    const method: PeftMethod<ScaleConfig> = {
      peftType: 'TEST_SCALE',
      moduleKeys: ['scale_vec'],
      configKeys: ['target'],
      mergeable: false,
      parseConfig: (read) => ({ target: read.string('target', 'v_proj') as string }),
      serializeConfig: (config) => ({ target: config.target }),
      attach({ model, name }, config) {
        const layers = [...model.namedModules()].filter(([moduleName, module]) => module instanceof nn.ProjectionLayer && moduleName.endsWith(config.target));
        return {
          layers: layers.map(([, module]) => {
            const layer = module as nn.ProjectionLayer;
            const scale = (layer.adapters.find((adapter) => adapter instanceof OutputScale) as OutputScale | undefined) ?? new OutputScale(layer);
            scale.vectors.set(name, ones([layer.outFeatures], { dtype: layer.weightDtype }));
            return scale;
          }),
          copies: [],
          sharedTrainable: [],
        };
      },
    };
    registerPeftMethod(method);
    const config: ScaleConfig = { peftType: 'TEST_SCALE', target: 'v_proj', taskType: null, baseModelNameOrPath: null, revision: null, inferenceMode: false };
    const peft = new PeftModel(await loadModelFromFolder(llamaDir));
    const bare = logitsOf(peft);
    peft.addAdapter('scaled', config);
    const names = [...peft.adapterParameters('scaled').keys()];
    assert.ok(names.length > 0 && names.every((name) => name.includes('.scale_vec.scaled')), names.join(', '));
    assert.deepEqual(logitsOf(peft), bare);
    noGrad(() => {
      for (const tensor of peft.adapterParameters('scaled').values()) tensor.mul_(1.5);
    });
    const scaled = logitsOf(peft);
    assert.notDeepEqual(scaled, bare);
    const dir = path.join(scratch, 'custom');
    await saveAdapter(peft, dir);
    const again = new PeftModel(await loadModelFromFolder(llamaDir));
    await loadAdapter(again, dir);
    assert.deepEqual(logitsOf(again), scaled);
    peft.dispose();
    again.dispose();
  });

  it('PEFT\'s entry points: fromPretrained, then loadAdapter for a second adapter, frozen unless isTrainable', { skip: hasShared ? false : 'no ../shared' }, async () => {
    const llama = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama');
    const peft = await PeftModel.fromPretrained(await loadModelFromFolder(llama), path.join(llama, 'adapters', 'lora_default'));
    assert.equal(peft.activeAdapter, 'default');
    assert.equal(peft.namedParameters().filter(([, p]) => p.requiresGrad).length, 0);
    const config = await peft.loadAdapter(path.join(llama, 'adapters', 'prompt_tuning'), 'prompt', { isTrainable: true });
    assert.equal(config.peftType, 'PROMPT_TUNING');
    assert.deepEqual(peft.adapterNames, ['default', 'prompt']);
    assert.equal(peft.activeAdapter, 'prompt');
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad).map(([name]) => name);
    assert.deepEqual(trainable, ['prompt_encoder.prompt.embedding.weight']);
    peft.dispose();
  });
});
