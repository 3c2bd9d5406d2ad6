/*
 * The steps between fork and exec that can fail, as a child reports them
 * to its parent on a close-on-exec pipe: { stage, errno } as two ints.
 * Shared by the gateway (spawn.c) and its keeper (keeper/keeper.c).
 */
#ifndef EXEC_STAGE_H
#define EXEC_STAGE_H

enum exec_stage {
	STAGE_NONE,
	STAGE_SETSID,
	STAGE_SETNS,
	STAGE_CHROOT,
	STAGE_DUP2,
	STAGE_CTTY,
	STAGE_CHDIR,
	STAGE_CAPS,
	STAGE_EXEC,
	NSTAGES
};

#endif
