# Writes the weak-scaling scenarios of docs/PERFORMANCE.md ("Scale") into DIR:
# DeepSeek-V3 (16 sequences per GPU, context 2048) with EP, MA Separation and
# TP8xPP2, and the seed model (8 per GPU, context 512) with TP, PP, TPxPP, EP and
# MA Separation, at N GPUs of the HGX H200 generator. Usage: python3 THIS DIR
import json, sys, os
import pathlib
R=str(pathlib.Path(__file__).resolve().parents[2])
OUT=sys.argv[1] if len(sys.argv) > 1 else '/tmp/sc'
os.makedirs(OUT, exist_ok=True)
def topo(nodes):
    t=json.load(open(f'{R}/topologies/hgx-h200-x128.json')); t['generator']['nodes']=nodes; t['name']=f'x{nodes}'
    p=f'{OUT}/topo{nodes}.json'; json.dump(t,open(p,'w')); return p
def scen(model, N, layout, name, batch_per_gpu=16, ctx=2048):
    nodes=max(1,N//8); tp=topo(nodes)
    s={"schema":1,"name":name,"seed":42,"hardware":f"{R}/scenarios/hardware/h200-sxm-141gb.json","topology":tp,
       "model":model,"workload":{"kind":"decode","batch":batch_per_gpu*N,"context_length":ctx,"iterations":1,
       "routing":{"kind":"zipf","zipf_exponent":0.3}},"layouts":[layout]}
    p=f'{OUT}/{name}.json'; json.dump(s,open(p,'w')); return p
ds=f'{R}/scenarios/models/deepseek-v3.config.json'
for N in (64,128,256,512,1024,2048,4096):
    ep=min(N,256)
    scen(ds,N,{"name":"EP","kind":"ep","ep":ep,"dp":N//ep},f'ds_ep_{N}')
    h=N//2; etp=max(1,h//256)
    scen(ds,N,{"name":"MA","kind":"ma_separation","ma":{"attention_gpus":list(range(h)),"expert_gpus":list(range(h,N)),"attention_tp":8,"expert_tp":etp,"micro_batches":2}},f'ds_ma_{N}')
    scen(ds,N,{"name":"TPPP","kind":"tp_pp","tp":8,"pp":2,"dp":N//16,"micro_batches":2},f'ds_tppp_{N}')
seed=f'{R}/scenarios/models/seed-moe-4l.json'
for N in (64,256,1024):
    scen(seed,N,{"name":"TP","kind":"tp","tp":8,"dp":N//8},f'sd_tp_{N}',8,512)
    scen(seed,N,{"name":"PP","kind":"pp","pp":2,"stage_parallelism":"none","dp":N//2,"micro_batches":2},f'sd_pp_{N}',8,512)
    scen(seed,N,{"name":"TPPP","kind":"tp_pp","tp":8,"pp":2,"dp":N//16,"micro_batches":2},f'sd_tppp_{N}',8,512)
    scen(seed,N,{"name":"EP","kind":"ep","ep":16,"dp":N//16},f'sd_ep_{N}',8,512)
    h=N//2
    scen(seed,N,{"name":"MA","kind":"ma_separation","ma":{"attention_gpus":list(range(h)),"expert_gpus":list(range(h,N)),"attention_tp":2,"expert_tp":max(1,h//16),"micro_batches":2}},f"sd_ma_{N}",8,512)
