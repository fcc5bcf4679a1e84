# How stage scripts run parallel jobs ("$train_cmd JOB=1:$nj log/x.JOB.log cmd ... JOB ...").
# Default: local processes. On a Slurm cluster use utils/slurm.pl instead, e.g.
#   export train_cmd="utils/slurm.pl --mem 4G --partition cpu"
#   export cuda_cmd="utils/slurm.pl --gpu 1 --mem 16G --partition gpu"
# (extra sbatch flags can go in $SLURM_PL_OPTS). Edit here, not in the stage scripts; a value already in
# the environment is kept. c_train.sh submits training through $cuda_cmd unless it is run.pl (docs/cluster.md).
export train_cmd="${train_cmd:-utils/run.pl}"
export cuda_cmd="${cuda_cmd:-utils/run.pl}"
